-- Reverts 0004_linking: drops its two indexes (no data is lost).
DROP INDEX emailverification_tokens_user_idx ON {prefix}emailverification_tokens;
DROP INDEX app_id_to_user_id_linked_idx ON {prefix}app_id_to_user_id;
