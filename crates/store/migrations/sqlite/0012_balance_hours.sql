-- Each user's total (available + held) of each asset at the end of every UTC hour in which it
-- changed, projected from the engine's balance events with the command's own timestamp, so a
-- replay after a crash writes the same rows. The portfolio chart values these against hourly
-- candles; an hour without a row carries the previous total forward. A write only replaces an
-- equal or older `last_seq`, like the balances table.
CREATE TABLE balance_hours (
    user_id BIGINT NOT NULL,
    asset TEXT NOT NULL,
    hour_s BIGINT NOT NULL,
    total BIGINT NOT NULL,
    last_seq BIGINT NOT NULL,
    PRIMARY KEY (user_id, asset, hour_s)
);

-- Balances from before this table existed count from the start of time, so an account that has
-- not changed since the upgrade still has a value line.
INSERT INTO balance_hours (user_id, asset, hour_s, total, last_seq)
SELECT user_id, asset, 0, available + held, last_seq FROM balances;
