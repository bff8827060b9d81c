-- Stop orders (BitMart's algo orders of type "trigger"), projected from the engine's stop-order
-- events like the orders table: each row holds the state after the event at `last_seq`, and a
-- write only replaces an equal or older one, so replays never move a row backwards. `order_id`
-- is the order a fired stop order placed; `fail_reason` why that order was refused.
CREATE TABLE trigger_orders (
    trigger_id INTEGER PRIMARY KEY NOT NULL,
    user_id INTEGER NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    kind TEXT NOT NULL,
    price_ticks INTEGER NOT NULL,
    size_lots INTEGER NOT NULL,
    notional INTEGER NOT NULL,
    trigger_price_ticks INTEGER NOT NULL,
    direction TEXT NOT NULL,
    state TEXT NOT NULL,
    order_id INTEGER,
    fail_reason TEXT,
    client_order_id TEXT,
    stp TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    last_seq INTEGER NOT NULL
) STRICT;

CREATE INDEX ix_trigger_orders_user_state_created ON trigger_orders (user_id, state, created_ms);
CREATE INDEX ix_trigger_orders_user_client_id ON trigger_orders (user_id, client_order_id)
    WHERE client_order_id IS NOT NULL;
