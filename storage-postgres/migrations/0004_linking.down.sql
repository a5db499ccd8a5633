-- Reverts 0004_linking: drops its two indexes (no data is lost).
DROP INDEX IF EXISTS {prefix}emailverification_tokens_user_idx;
DROP INDEX IF EXISTS {prefix}app_id_to_user_id_linked_idx;
