-- The release duty asks, before it keeps a provider-wide cause for the
-- provider, whether the saga lifted that cause from one of the provider's
-- live connections since it was imposed (isolation.c, s_released;
-- test_x4_lifted_provider_disconnection_is_not_kept): cause_history by
-- connection, cause and time, which grows with every change and was read
-- whole.
CREATE INDEX cause_history_connection ON cause_history (connection_id, cause, at);
