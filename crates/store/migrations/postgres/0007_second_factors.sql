-- Email and SMS second factors (TOTP keeps its own table with the encrypted seed). One row per
-- enrolled method; the code itself goes through one_time_codes like every other code.
CREATE TABLE second_factors (
    user_id BIGINT NOT NULL,
    method TEXT NOT NULL,
    enabled_ms BIGINT NOT NULL,
    CONSTRAINT pk_second_factors PRIMARY KEY (user_id, method),
    CONSTRAINT fk_second_factors_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT ck_second_factors_method CHECK (method IN ('email', 'sms'))
);
