-- KYC residence subdivision (ISO 3166-2, e.g. "US-NY"), declared with the L1 application so
-- restricted subdivisions apply to already-registered users. Keep in step with the other tree.
ALTER TABLE users ADD COLUMN residence_subdivision TEXT;
