-- Candles (klines) of every market and interval, projected from trades in the same transaction
-- as the trades themselves, so after a crash they are rebuilt exactly by replaying the events
-- after the projection's sequence number. Prices are ticks, volumes lots and quote units, as in
-- the trades table. `first_seq`/`last_seq` bound the events merged into the row, so a batch that
-- was already merged is never counted twice.
CREATE TABLE candles (
    symbol TEXT NOT NULL,
    step_minutes INTEGER NOT NULL,
    open_s BIGINT NOT NULL,
    open_ticks BIGINT NOT NULL,
    high_ticks BIGINT NOT NULL,
    low_ticks BIGINT NOT NULL,
    close_ticks BIGINT NOT NULL,
    volume_lots BIGINT NOT NULL,
    volume_quote BIGINT NOT NULL,
    trades BIGINT NOT NULL,
    first_seq BIGINT NOT NULL,
    last_seq BIGINT NOT NULL,
    PRIMARY KEY (symbol, step_minutes, open_s)
);
