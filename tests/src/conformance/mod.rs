//! The conformance story, written once against `Arc<dyn Storage>`.
//!
//! Every test is an `async fn(Ctx)` in one of the domain modules below and is listed
//! once in [`conformance_suite!`](crate::conformance_suite), which stamps the whole
//! list out for a backend: `storage_tests::conformance_suite!(sqlite, Sqlite);` gives
//! `sqlite::<test>` for every test (filter with `cargo test sqlite::`).
//!
//! - [`tenancy`]: apps, tenants, cascades of tenant and app deletion, tenant configs,
//!   key/value rows;
//! - [`users`]: sign-up of the three recipes, lookups, keyset pagination, counting,
//!   updates, tenant membership, deletion;
//! - [`sessions`]: sessions, refresh-token rotation, expiry, signing keys;
//! - [`codes`]: passwordless devices and codes, password-reset and email-verification
//!   tokens, verified emails;
//! - [`isolation`]: tenant isolation and the app scope;
//! - [`transactions`]: the three outcomes, retries, isolation levels;
//! - [`races`]: the concurrent flows of contract 5.5 from 16 tasks each;
//! - [`bad_input`]: `InvalidInput` and `Config` errors, Unicode and SQL metacharacters;
//! - [`persistence`]: writes read back with plain SQL, rows written with plain SQL
//!   served by the API, and the table-name prefix.

pub mod bad_input;
pub mod codes;
pub mod fixtures;
pub mod isolation;
pub mod persistence;
pub mod races;
pub mod sessions;
pub mod tenancy;
pub mod transactions;
pub mod users;

/// Stamps out the whole conformance suite for one backend as `#[tokio::test]`s named
/// `<name>::<test>`. Tests of the first list run without a table prefix, those of the
/// second with the prefix `st`.
#[macro_export]
macro_rules! conformance_suite {
    ($name:ident, $backend:path) => {
        $crate::conformance_suite!(@tests $name, $backend, [
            // (module, test) pairs; keep sorted by module.
            (tenancy, tenancy_add_and_list_tenants),
            (tenancy, tenancy_add_tenant_inserts_app),
            (tenancy, tenancy_duplicate_tenant),
            (tenancy, tenancy_ids_are_normalised),
            (tenancy, tenancy_delete_tenant_returns_bool),
            (tenancy, tenancy_delete_tenant_cascades_keeps_users),
            (tenancy, tenancy_delete_public_tenant_deletes_app),
            (tenancy, tenancy_delete_app_cascades_everything),
            (tenancy, tenancy_delete_app_removes_tenant_configs),
            (tenancy, tenancy_config_roundtrip),
            (tenancy, tenancy_config_null_vs_empty),
            (tenancy, tenancy_config_duplicate_tenant),
            (tenancy, tenancy_config_duplicate_third_party_id),
            (tenancy, tenancy_config_duplicate_client_type),
            (tenancy, tenancy_config_overwrite),
            (tenancy, tenancy_config_list_and_domains),
            (tenancy, tenancy_config_delete),
            (tenancy, tenancy_kv_set_get_upsert),
            (tenancy, tenancy_kv_unknown_tenant),
            (tenancy, tenancy_kv_in_transaction),
            (users, users_sign_up_email_password),
            (users, users_sign_up_third_party),
            (users, users_create_passwordless),
            (users, users_sign_up_unknown_tenant),
            (users, users_duplicate_user_id),
            (users, users_duplicate_email_phone_third_party),
            (users, users_list_by_email_across_recipes),
            (users, users_email_is_case_sensitive),
            (users, users_list_by_phone_and_third_party),
            (users, users_user_exists),
            (users, users_update_email_password_email),
            (users, users_update_email_checks_every_tenant),
            (users, users_update_password_hash),
            (users, users_update_passwordless_contact),
            (users, users_add_and_remove_tenant_membership),
            (users, users_add_to_tenant_rechecks_uniqueness),
            (users, users_delete_user_everywhere),
            (users, users_delete_other_recipes),
            (users, users_login_method_verified_flag),
            (users, users_list_users_paginated_asc),
            (users, users_list_users_paginated_desc),
            (users, users_list_users_recipe_filter),
            (users, users_list_users_encoded_token),
            (users, users_count_users),
            (users, users_in_transaction),
            (users, users_in_transaction_rolled_back),
            (sessions, sessions_create_and_get),
            (sessions, sessions_create_unknown_tenant),
            (sessions, sessions_rotate_refresh_token),
            (sessions, sessions_update_session),
            (sessions, sessions_delete_by_handles),
            (sessions, sessions_delete_of_user),
            (sessions, sessions_handles_of_user),
            (sessions, sessions_count),
            (sessions, sessions_delete_expired),
            (sessions, sessions_delete_expired_many),
            (sessions, sessions_in_transaction),
            (sessions, sessions_signing_keys),
            (sessions, sessions_signing_key_unknown_app),
            (sessions, sessions_external_user_ids),
            (codes, codes_create_device_and_read),
            (codes, codes_create_device_errors),
            (codes, codes_create_code),
            (codes, codes_listing_and_created_before),
            (codes, codes_devices_by_email_and_phone),
            (codes, codes_device_ops_in_transaction),
            (codes, codes_delete_devices_by_email_and_phone),
            (codes, codes_password_reset_tokens),
            (codes, codes_password_reset_token_errors),
            (codes, codes_password_reset_delete_expired),
            (codes, codes_password_reset_in_transaction),
            (codes, codes_email_verification_tokens),
            (codes, codes_email_verification_token_errors),
            (codes, codes_email_verification_delete_expired),
            (codes, codes_email_verification_in_transaction),
            (codes, codes_verified_emails),
            (codes, codes_verified_email_unknown_app),
            (transactions, tx_commit_and_ok),
            (transactions, tx_rollback_and_err),
            (transactions, tx_commit_and_err),
            (transactions, tx_storage_error_rolls_back),
            (transactions, tx_retry_on_retryable),
            (transactions, tx_retry_is_bounded),
            (transactions, tx_isolation_levels),
            (transactions, tx_begin_commit_rollback_drop),
            (transactions, tx_uncommitted_writes_invisible),
            (transactions, tx_rollback_spans_domains),
            (races, race_refresh_rotation),
            (races, race_consume_passwordless_code),
            (races, race_wrong_code_attempts_counted),
            (races, race_consume_password_reset_token),
            (races, race_consume_email_verification_token),
            (races, race_sign_up_same_email),
            (races, race_sign_up_other_recipes),
            (races, race_signing_key_rotation),
            (races, race_kv_counter),
            (races, race_add_tenant),
            (races, race_delete_expired_sessions),
            (bad_input, bad_email_too_long),
            (bad_input, bad_session_fields_too_long),
            (bad_input, bad_third_party_fields_too_long),
            (bad_input, bad_other_fields_too_long),
            (bad_input, bad_tenant_config_fields_too_long),
            (bad_input, bad_empty_ids),
            (bad_input, bad_nul_bytes),
            (bad_input, bad_malformed_uuids),
            (bad_input, bad_malformed_hashes),
            (bad_input, bad_tenant_and_app_ids),
            (bad_input, bad_negative_times),
            (bad_input, bad_list_users_limits_and_tokens),
            (bad_input, bad_unicode_round_trip),
            (bad_input, bad_sql_metacharacters_round_trip),
            (bad_input, bad_lookups_never_fail_badly),
            (bad_input, bad_config_unknown_scheme),
            (bad_input, bad_config_uri_hides_password),
            (bad_input, bad_calls_after_close_are_unavailable),
            (persistence, persist_email_password_sign_up),
            (persistence, persist_third_party_sign_up),
            (persistence, persist_passwordless_user),
            (persistence, persist_session_create_and_rotate),
            (persistence, persist_device_and_codes),
            (persistence, persist_tenant_config),
            (persistence, persist_tokens_and_verified_emails),
            (persistence, persist_kv_tenants_and_keys),
            (persistence, persist_membership_and_email_change),
            (persistence, persist_rows_written_by_sql_are_served),
            (persistence, persist_migrations_idempotent),
            (isolation, iso_sessions),
            (isolation, iso_devices_and_codes),
            (isolation, iso_key_value),
            (isolation, iso_users_per_tenant),
            (isolation, iso_email_verification_tokens),
            (isolation, iso_app_scoped_shared_within_app),
            (isolation, iso_app_scoped_not_across_apps),
            (isolation, iso_delete_tenant_spares_siblings),
            (isolation, iso_tenant_configs),
        ], prefixed [
            (persistence, persist_prefixed_tables),
        ]);
    };
    (@tests $name:ident, $backend:path,
        [$(($module:ident, $test:ident)),* $(,)?],
        prefixed [$(($pmodule:ident, $ptest:ident)),* $(,)?]) => {
        mod $name {
            $crate::__paste_tests!($backend, None, $(($module, $test))*);
            $crate::__paste_tests!($backend, Some("st"), $(($pmodule, $ptest))*);
        }
    };
}

/// Implementation detail of [`conformance_suite!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __paste_tests {
    ($backend:path, $prefix:expr, $(($module:ident, $test:ident))*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $test() {
                $crate::harness::run::<$backend, _>($prefix, |ctx| {
                    Box::pin($crate::conformance::$module::$test(ctx))
                })
                .await;
            }
        )*
    };
}
