-- Stop orders (BitMart's algo orders of type "trigger"), projected from the engine's stop-order
-- events like the orders table: each row holds the state after the event at `last_seq`, and a
-- write only replaces an equal or older one, so replays never move a row backwards. `order_id`
-- is the order a fired stop order placed; `fail_reason` why that order was refused.
CREATE TABLE trigger_orders (
    trigger_id BIGINT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    kind TEXT NOT NULL,
    price_ticks BIGINT NOT NULL,
    size_lots BIGINT NOT NULL,
    notional BIGINT NOT NULL,
    trigger_price_ticks BIGINT NOT NULL,
    direction TEXT NOT NULL,
    state TEXT NOT NULL,
    order_id BIGINT,
    fail_reason TEXT,
    client_order_id TEXT,
    stp TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    last_seq BIGINT NOT NULL
);

CREATE INDEX ix_trigger_orders_user_state_created ON trigger_orders (user_id, state, created_ms);
CREATE INDEX ix_trigger_orders_user_client_id ON trigger_orders (user_id, client_order_id)
    WHERE client_order_id IS NOT NULL;
