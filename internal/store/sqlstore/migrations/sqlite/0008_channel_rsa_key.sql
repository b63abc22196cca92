-- The channel's RSA public key, PEM (PKIX), which verifies the requests of
-- channels with sign type RSA. It is '' for every other sign type, and so for
-- the channels stored before this migration.
ALTER TABLE channels ADD COLUMN rsa_public_key TEXT NOT NULL DEFAULT '';
