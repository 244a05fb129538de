-- 0005_health_unknown.sql - the Baileys channel's health is merged from several sender-baileys
-- instances (docs/architecture.md §3.3): with no fresh report from any of them it is UNKNOWN,
-- and that change is recorded like UP and DOWN.
ALTER TABLE provider_health DROP CONSTRAINT provider_health_state_check;
ALTER TABLE provider_health ADD CONSTRAINT provider_health_state_check
    CHECK (state IN ('UP', 'DOWN', 'UNKNOWN'));
