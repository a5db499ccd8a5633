//! After migrating, `information_schema` matches `shared/spec/schema.md` on
//! MySQL/MariaDB, with and without a table-name prefix: every table (InnoDB,
//! `utf8mb4_bin`) and no other, every column with its type (unsigned where the spec
//! says so), nullability, default and collation, the primary key, the unique keys
//! named after their column, every index (prefixed names) and every foreign key
//! with its cascades.

use std::collections::{BTreeMap, BTreeSet};
use storage_api::OpenOptions;
use storage_tests::backends::mysql::{Raw, database_uri, in_fresh_database, open_in_database};
use storage_tests::harness::RawSql;

/// The expected schema, from schema.md. One line per fact:
/// `table NAME`;
/// `col NAME TYPE NN|NULL [default=VALUE]` (TYPE without spaces: `bigint-unsigned`,
/// `int-unsigned`, `boolean`, `text`, `varchar(64)`, `char(36)`; `''` is the empty
/// string);
/// `pk COLS`; `uq NAME COLS` (name without prefix); `idx NAME COLS` (name gets the
/// prefix; `col-` marks a descending part);
/// `fk NAME COLS TABLE(COLS) DELETE UPDATE` (name and table get the prefix; `-` for
/// no action).
const SPEC: &str = r"
table apps
col app_id varchar(64) NN default=public
col created_at_time bigint-unsigned NULL
pk app_id

table tenants
col app_id varchar(64) NN default=public
col tenant_id varchar(64) NN default=public
col created_at_time bigint-unsigned NULL
pk app_id,tenant_id
idx tenants_app_id_index app_id
fk tenants_app_id_fkey app_id apps(app_id) CASCADE -

table key_value
col app_id varchar(64) NN default=public
col tenant_id varchar(64) NN default=public
col name varchar(128) NN
col value text NULL
col created_at_time bigint-unsigned NULL
pk app_id,tenant_id,name
idx key_value_tenant_id_index app_id,tenant_id
fk key_value_tenant_id_fkey app_id,tenant_id tenants(app_id,tenant_id) CASCADE -

table tenant_configs
col connection_uri_domain varchar(256) NN default=''
col app_id varchar(64) NN default=public
col tenant_id varchar(64) NN default=public
col core_config text NULL
col email_password_enabled boolean NULL
col passwordless_enabled boolean NULL
col third_party_enabled boolean NULL
col is_first_factors_null boolean NULL
pk connection_uri_domain,app_id,tenant_id

table tenant_thirdparty_providers
col connection_uri_domain varchar(256) NN default=''
col app_id varchar(64) NN default=public
col tenant_id varchar(64) NN default=public
col third_party_id varchar(28) NN
col name varchar(64) NULL
col authorization_endpoint text NULL
col authorization_endpoint_query_params text NULL
col token_endpoint text NULL
col token_endpoint_body_params text NULL
col user_info_endpoint text NULL
col user_info_endpoint_query_params text NULL
col user_info_endpoint_headers text NULL
col jwks_uri text NULL
col oidc_discovery_endpoint text NULL
col require_email boolean NULL
col user_info_map_from_id_token_payload_user_id varchar(64) NULL
col user_info_map_from_id_token_payload_email varchar(64) NULL
col user_info_map_from_id_token_payload_email_verified varchar(64) NULL
col user_info_map_from_user_info_endpoint_user_id varchar(64) NULL
col user_info_map_from_user_info_endpoint_email varchar(64) NULL
col user_info_map_from_user_info_endpoint_email_verified varchar(64) NULL
pk connection_uri_domain,app_id,tenant_id,third_party_id
idx tenant_thirdparty_providers_tenant_id_index connection_uri_domain,app_id,tenant_id
fk tenant_thirdparty_providers_tenant_id_fkey connection_uri_domain,app_id,tenant_id tenant_configs(connection_uri_domain,app_id,tenant_id) CASCADE -

table tenant_thirdparty_provider_clients
col connection_uri_domain varchar(256) NN default=''
col app_id varchar(64) NN default=public
col tenant_id varchar(64) NN default=public
col third_party_id varchar(28) NN
col client_type varchar(64) NN default=''
col client_id varchar(256) NN
col client_secret text NULL
col scope text NULL
col force_pkce boolean NULL
col additional_config text NULL
pk connection_uri_domain,app_id,tenant_id,third_party_id,client_type
fk tenant_thirdparty_provider_clients_third_party_id_fkey connection_uri_domain,app_id,tenant_id,third_party_id tenant_thirdparty_providers(connection_uri_domain,app_id,tenant_id,third_party_id) CASCADE -

table tenant_first_factors
col connection_uri_domain varchar(256) NN default=''
col app_id varchar(64) NN default=public
col tenant_id varchar(64) NN default=public
col factor_id varchar(128) NN
pk connection_uri_domain,app_id,tenant_id,factor_id
fk tenant_first_factors_tenant_id_fkey connection_uri_domain,app_id,tenant_id tenant_configs(connection_uri_domain,app_id,tenant_id) CASCADE -

table tenant_required_secondary_factors
col connection_uri_domain varchar(256) NN default=''
col app_id varchar(64) NN default=public
col tenant_id varchar(64) NN default=public
col factor_id varchar(128) NN
pk connection_uri_domain,app_id,tenant_id,factor_id
fk tenant_required_secondary_factors_tenant_id_fkey connection_uri_domain,app_id,tenant_id tenant_configs(connection_uri_domain,app_id,tenant_id) CASCADE -

table app_id_to_user_id
col app_id varchar(64) NN default=public
col user_id char(36) NN
col recipe_id varchar(128) NN
col primary_or_recipe_user_id char(36) NN
col is_linked_or_is_a_primary_user boolean NN default=0
col time_joined bigint-unsigned NN default=0
col primary_or_recipe_user_time_joined bigint-unsigned NN default=0
pk app_id,user_id
idx app_id_to_user_id_app_id_index app_id
idx app_id_to_user_id_primary_user_id_index primary_or_recipe_user_id,app_id
idx app_id_to_user_id_user_id_index user_id,app_id
idx app_id_to_user_id_app_id_primary_user_id_index app_id,primary_or_recipe_user_id
fk app_id_to_user_id_app_id_fkey app_id apps(app_id) CASCADE -
fk app_id_to_user_id_primary_or_recipe_user_id_fkey app_id,primary_or_recipe_user_id app_id_to_user_id(app_id,user_id) CASCADE CASCADE

table all_auth_recipe_users
col app_id varchar(64) NN default=public
col tenant_id varchar(64) NN default=public
col user_id char(36) NN
col primary_or_recipe_user_id char(36) NN
col is_linked_or_is_a_primary_user boolean NN default=0
col recipe_id varchar(128) NN
col time_joined bigint-unsigned NN
col primary_or_recipe_user_time_joined bigint-unsigned NN
pk app_id,tenant_id,user_id
idx all_auth_recipe_users_pagination_index1 app_id,tenant_id,primary_or_recipe_user_time_joined-,primary_or_recipe_user_id-
idx all_auth_recipe_users_pagination_index2 app_id,tenant_id,primary_or_recipe_user_time_joined,primary_or_recipe_user_id-
idx all_auth_recipe_users_pagination_index3 recipe_id,app_id,tenant_id,primary_or_recipe_user_time_joined-,primary_or_recipe_user_id-
idx all_auth_recipe_users_pagination_index4 recipe_id,app_id,tenant_id,primary_or_recipe_user_time_joined,primary_or_recipe_user_id-
idx all_auth_recipe_users_primary_user_id_index primary_or_recipe_user_id,app_id
idx all_auth_recipe_users_recipe_id_index app_id,recipe_id,tenant_id
idx all_auth_recipe_users_app_id_primary_user_id_index app_id,primary_or_recipe_user_id
idx all_auth_recipe_users_app_id_user_id_index app_id,user_id
fk all_auth_recipe_users_tenant_id_fkey app_id,tenant_id tenants(app_id,tenant_id) CASCADE -
fk all_auth_recipe_users_primary_or_recipe_user_id_fkey app_id,primary_or_recipe_user_id app_id_to_user_id(app_id,user_id) CASCADE CASCADE
fk all_auth_recipe_users_user_id_fkey app_id,user_id app_id_to_user_id(app_id,user_id) CASCADE CASCADE

table emailpassword_users
col app_id varchar(64) NN default=public
col user_id char(36) NN
col email varchar(256) NN
col password_hash varchar(256) NN
col time_joined bigint-unsigned NN
pk app_id,user_id
idx emailpassword_users_email_index app_id,email
fk emailpassword_users_user_id_fkey app_id,user_id app_id_to_user_id(app_id,user_id) CASCADE CASCADE

table emailpassword_user_to_tenant
col app_id varchar(64) NN default=public
col tenant_id varchar(64) NN default=public
col user_id char(36) NN
col email varchar(256) NN
pk app_id,tenant_id,user_id
uq email app_id,tenant_id,email
fk emailpassword_user_to_tenant_user_id_fkey app_id,tenant_id,user_id all_auth_recipe_users(app_id,tenant_id,user_id) CASCADE -

table thirdparty_users
col app_id varchar(64) NN default=public
col third_party_id varchar(28) NN
col third_party_user_id varchar(256) NN
col user_id char(36) NN
col email varchar(256) NN
col time_joined bigint-unsigned NN
pk app_id,user_id
idx thirdparty_users_email_index app_id,email
idx thirdparty_users_thirdparty_user_id_index app_id,third_party_id,third_party_user_id
fk thirdparty_users_user_id_fkey app_id,user_id app_id_to_user_id(app_id,user_id) CASCADE CASCADE

table thirdparty_user_to_tenant
col app_id varchar(64) NN default=public
col tenant_id varchar(64) NN default=public
col user_id char(36) NN
col third_party_id varchar(28) NN
col third_party_user_id varchar(256) NN
pk app_id,tenant_id,user_id
uq third_party_user_id app_id,tenant_id,third_party_id,third_party_user_id
fk thirdparty_user_to_tenant_user_id_fkey app_id,tenant_id,user_id all_auth_recipe_users(app_id,tenant_id,user_id) CASCADE -

table passwordless_users
col app_id varchar(64) NN default=public
col user_id char(36) NN
col email varchar(256) NULL
col phone_number varchar(256) NULL
col time_joined bigint-unsigned NN
pk app_id,user_id
idx passwordless_users_email_index app_id,email
idx passwordless_users_phone_number_index app_id,phone_number
fk passwordless_users_user_id_fkey app_id,user_id app_id_to_user_id(app_id,user_id) CASCADE CASCADE

table passwordless_user_to_tenant
col app_id varchar(64) NN default=public
col tenant_id varchar(64) NN default=public
col user_id char(36) NN
col email varchar(256) NULL
col phone_number varchar(256) NULL
pk app_id,tenant_id,user_id
uq email app_id,tenant_id,email
uq phone_number app_id,tenant_id,phone_number
fk passwordless_user_to_tenant_user_id_fkey app_id,tenant_id,user_id all_auth_recipe_users(app_id,tenant_id,user_id) CASCADE -

table session_info
col app_id varchar(64) NN default=public
col tenant_id varchar(64) NN default=public
col session_handle varchar(255) NN
col user_id varchar(128) NN
col refresh_token_hash_2 varchar(128) NN
col session_data text NULL
col expires_at bigint-unsigned NN
col created_at_time bigint-unsigned NN
col jwt_user_payload text NULL
col use_static_key boolean NN
col prev_refresh_token_hash_2 varchar(128) NULL
col refresh_token_rotated_at bigint-unsigned NULL
pk app_id,tenant_id,session_handle
idx session_expiry_index expires_at
idx session_info_user_id_app_id_index user_id,app_id
idx session_info_tenant_id_index app_id,tenant_id
fk session_info_tenant_id_fkey app_id,tenant_id tenants(app_id,tenant_id) CASCADE -

table session_access_token_signing_keys
col app_id varchar(64) NN default=public
col created_at_time bigint-unsigned NN
col value text NULL
pk app_id,created_at_time
idx access_token_signing_keys_app_id_index app_id
fk session_access_token_signing_keys_app_id_fkey app_id apps(app_id) CASCADE -

table passwordless_devices
col app_id varchar(64) NN default=public
col tenant_id varchar(64) NN default=public
col device_id_hash char(44) NN
col email varchar(256) NULL
col phone_number varchar(256) NULL
col link_code_salt char(44) NN
col failed_attempts int-unsigned NN
pk app_id,tenant_id,device_id_hash
idx passwordless_devices_email_index app_id,tenant_id,email
idx passwordless_devices_phone_number_index app_id,tenant_id,phone_number
idx passwordless_devices_tenant_id_index app_id,tenant_id
fk passwordless_devices_tenant_id_fkey app_id,tenant_id tenants(app_id,tenant_id) CASCADE -

table passwordless_codes
col app_id varchar(64) NN default=public
col tenant_id varchar(64) NN default=public
col code_id char(36) NN
col device_id_hash char(44) NN
col link_code_hash char(44) NN
col created_at bigint-unsigned NN
pk app_id,tenant_id,code_id
uq link_code_hash app_id,tenant_id,link_code_hash
idx passwordless_codes_created_at_index app_id,tenant_id,created_at
idx passwordless_codes_device_id_hash_index app_id,tenant_id,device_id_hash
fk passwordless_codes_device_id_hash_fkey app_id,tenant_id,device_id_hash passwordless_devices(app_id,tenant_id,device_id_hash) CASCADE CASCADE

table emailpassword_pswd_reset_tokens
col app_id varchar(64) NN default=public
col user_id char(36) NN
col token varchar(128) NN
col email varchar(256) NULL
col token_expiry bigint-unsigned NN
pk app_id,user_id,token
uq token token
idx emailpassword_password_reset_token_expiry_index token_expiry
idx emailpassword_pswd_reset_tokens_user_id_index app_id,user_id
fk emailpassword_pswd_reset_tokens_user_id_fkey app_id,user_id app_id_to_user_id(app_id,user_id) CASCADE CASCADE

table emailverification_tokens
col app_id varchar(64) NN default=public
col tenant_id varchar(64) NN default=public
col user_id varchar(128) NN
col email varchar(256) NN
col token varchar(128) NN
col token_expiry bigint-unsigned NN
pk app_id,tenant_id,user_id,email,token
uq token token
idx emailverification_tokens_index token_expiry
idx emailverification_tokens_tenant_id_index app_id,tenant_id
fk emailverification_tokens_tenant_id_fkey app_id,tenant_id tenants(app_id,tenant_id) CASCADE -

table emailverification_verified_emails
col app_id varchar(64) NN default=public
col user_id varchar(128) NN
col email varchar(256) NN
pk app_id,user_id,email
idx emailverification_verified_emails_app_id_index app_id
idx emailverification_verified_emails_email_index app_id,email
fk emailverification_verified_emails_app_id_fkey app_id apps(app_id) CASCADE -

table schema_migrations
col version bigint NN
col name varchar(255) NN
col checksum char(64) NN
col state varchar(16) NN
col applied_at bigint NN
col execution_ms bigint NN
pk version
";

/// A foreign key: columns, referenced table, referenced columns, delete rule,
/// update rule.
type ForeignKey = (Vec<String>, String, Vec<String>, String, String);

#[derive(Debug, Default, PartialEq, Eq)]
struct Table {
    /// name -> (type, not null, default)
    columns: BTreeMap<String, (String, bool, Option<String>)>,
    /// column order
    order: Vec<String>,
    /// index name -> (unique, parts)
    indexes: BTreeMap<String, (bool, Vec<String>)>,
    /// fk name -> (columns, referenced table, referenced columns, delete, update)
    fks: BTreeMap<String, ForeignKey>,
}

fn split_cols(s: &str) -> Vec<String> {
    s.split(',').map(str::to_owned).collect()
}

/// Parses SPEC with `prefix` applied; `desc` says whether descending index parts
/// are kept by this server (else `col-` reads as `col`).
fn expected(prefix: &str, desc: bool) -> BTreeMap<String, Table> {
    let mut out: BTreeMap<String, Table> = BTreeMap::new();
    let mut cur = String::new();
    for line in SPEC.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w[0] {
            "table" => {
                cur = format!("{prefix}{}", w[1]);
                out.insert(cur.clone(), Table::default());
            }
            "col" => {
                let t = out.get_mut(&cur).unwrap();
                let default = w.get(4).map(|d| {
                    let v = d.strip_prefix("default=").unwrap();
                    if v == "''" {
                        String::new()
                    } else {
                        v.to_owned()
                    }
                });
                t.columns
                    .insert(w[1].to_owned(), (w[2].to_owned(), w[3] == "NN", default));
                t.order.push(w[1].to_owned());
            }
            "pk" => {
                let t = out.get_mut(&cur).unwrap();
                t.indexes.insert("PRIMARY".into(), (true, split_cols(w[1])));
            }
            "uq" => {
                let t = out.get_mut(&cur).unwrap();
                t.indexes.insert(w[1].to_owned(), (true, split_cols(w[2])));
            }
            "idx" => {
                let t = out.get_mut(&cur).unwrap();
                let parts = split_cols(w[2])
                    .into_iter()
                    .map(|p| {
                        if desc {
                            p
                        } else {
                            p.trim_end_matches('-').to_owned()
                        }
                    })
                    .collect();
                t.indexes
                    .insert(format!("{prefix}{}", w[1]), (false, parts));
            }
            "fk" => {
                let t = out.get_mut(&cur).unwrap();
                let (rt, rc) = w[3].split_once('(').unwrap();
                let rc = rc.trim_end_matches(')');
                let rule = |r: &str| {
                    if r == "-" {
                        "RESTRICT".to_owned()
                    } else {
                        r.to_owned()
                    }
                };
                t.fks.insert(
                    format!("{prefix}{}", w[1]),
                    (
                        split_cols(w[2]),
                        format!("{prefix}{rt}"),
                        split_cols(rc),
                        rule(w[4]),
                        rule(w[5]),
                    ),
                );
            }
            other => panic!("bad SPEC line kind {other}"),
        }
    }
    out
}

/// `bigint(20) unsigned` (MariaDB) and `bigint unsigned` (MySQL 8) both read as
/// `bigint-unsigned`; `tinyint(1)` as `boolean`.
fn normalise_type(column_type: &str) -> String {
    let t = column_type.to_ascii_lowercase();
    if t == "tinyint(1)" {
        return "boolean".into();
    }
    let unsigned = t.contains("unsigned");
    let base = t.split_whitespace().next().unwrap_or("").to_owned();
    let base = if ["tinyint", "smallint", "mediumint", "int", "bigint"]
        .iter()
        .any(|i| base.starts_with(&format!("{i}(")))
    {
        base.split('(').next().unwrap().to_owned()
    } else {
        base
    };
    if unsigned {
        format!("{base}-unsigned")
    } else {
        base
    }
}

/// MariaDB shows defaults quoted (`'public'`) and a missing default as `NULL`;
/// MySQL shows them bare and as SQL NULL.
fn normalise_default(d: Option<String>) -> Option<String> {
    match d {
        None => None,
        Some(s) if s == "NULL" => None,
        Some(s) => Some(
            s.strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .map(str::to_owned)
                .unwrap_or(s),
        ),
    }
}

fn cell(r: &[Option<String>], i: usize) -> String {
    r[i].clone().unwrap_or_default()
}

async fn actual(raw: &dyn RawSql, db: &str, desc: bool) -> BTreeMap<String, Table> {
    let mut out: BTreeMap<String, Table> = BTreeMap::new();
    for r in raw
        .query(&format!(
            "SELECT TABLE_NAME, ENGINE, TABLE_COLLATION FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = '{db}' AND TABLE_TYPE = 'BASE TABLE'"
        ))
        .await
    {
        let name = cell(&r, 0);
        assert_eq!(cell(&r, 1), "InnoDB", "engine of {name}");
        assert_eq!(cell(&r, 2), "utf8mb4_bin", "collation of {name}");
        out.insert(name, Table::default());
    }
    for r in raw
        .query(&format!(
            "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, \
             CHARACTER_SET_NAME, COLLATION_NAME FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = '{db}' ORDER BY TABLE_NAME, ORDINAL_POSITION"
        ))
        .await
    {
        let (table, column) = (cell(&r, 0), cell(&r, 1));
        if let Some(coll) = &r[6] {
            assert_eq!(coll, "utf8mb4_bin", "collation of {table}.{column}");
            assert_eq!(cell(&r, 5), "utf8mb4", "charset of {table}.{column}");
        }
        let t = out.get_mut(&table).unwrap();
        t.columns.insert(
            column.clone(),
            (
                normalise_type(&cell(&r, 2)),
                cell(&r, 3) == "NO",
                normalise_default(r[4].clone()),
            ),
        );
        t.order.push(column);
    }
    for r in raw
        .query(&format!(
            "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, COLLATION \
             FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = '{db}' \
             ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
        ))
        .await
    {
        let t = out.get_mut(&cell(&r, 0)).unwrap();
        let mut part = cell(&r, 3);
        if desc && cell(&r, 4) == "D" {
            part.push('-');
        }
        let e = t
            .indexes
            .entry(cell(&r, 1))
            .or_insert_with(|| (cell(&r, 2) == "0", Vec::new()));
        e.1.push(part);
    }
    for r in raw
        .query(&format!(
            "SELECT rc.TABLE_NAME, rc.CONSTRAINT_NAME, rc.REFERENCED_TABLE_NAME, rc.DELETE_RULE, \
             rc.UPDATE_RULE, k.COLUMN_NAME, k.REFERENCED_COLUMN_NAME \
             FROM information_schema.REFERENTIAL_CONSTRAINTS rc \
             JOIN information_schema.KEY_COLUMN_USAGE k \
               ON k.CONSTRAINT_SCHEMA = rc.CONSTRAINT_SCHEMA AND k.TABLE_NAME = rc.TABLE_NAME \
              AND k.CONSTRAINT_NAME = rc.CONSTRAINT_NAME \
             WHERE rc.CONSTRAINT_SCHEMA = '{db}' \
             ORDER BY rc.TABLE_NAME, rc.CONSTRAINT_NAME, k.ORDINAL_POSITION"
        ))
        .await
    {
        let t = out.get_mut(&cell(&r, 0)).unwrap();
        let rule = |s: String| {
            if s == "NO ACTION" {
                "RESTRICT".into()
            } else {
                s
            }
        };
        let e = t.fks.entry(cell(&r, 1)).or_insert_with(|| {
            (
                Vec::new(),
                cell(&r, 2),
                Vec::new(),
                rule(cell(&r, 3)),
                rule(cell(&r, 4)),
            )
        });
        e.0.push(cell(&r, 5));
        e.2.push(cell(&r, 6));
    }
    out
}

/// Whether the server keeps descending index parts (MySQL 8, MariaDB 10.8+).
async fn keeps_desc(raw: &dyn RawSql) -> bool {
    let v = raw.query("SELECT VERSION()").await[0][0].clone().unwrap();
    let nums: Vec<u32> = v
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .take(2)
        .map(|s| s.parse().unwrap())
        .collect();
    if v.to_ascii_lowercase().contains("mariadb") {
        (nums[0], nums[1]) >= (10, 8)
    } else {
        true
    }
}

async fn check(prefix: Option<&str>) {
    let prefix = prefix.map(str::to_owned);
    in_fresh_database(|db| async move {
        let storage = open_in_database(&db, prefix.as_deref(), OpenOptions::default()).await;
        storage.close().await;
        let raw = Raw(
            storage_mysql::test_support::RawClient::connect(&database_uri(&db), 1)
                .await
                .expect("raw connection"),
        );
        let desc = keeps_desc(&raw).await;
        let p = prefix.map(|p| format!("{p}_")).unwrap_or_default();
        let want = expected(&p, desc);
        let got = actual(&raw, &db, desc).await;
        let want_tables: BTreeSet<_> = want.keys().collect();
        let got_tables: BTreeSet<_> = got.keys().collect();
        assert_eq!(got_tables, want_tables, "tables");
        for (name, w) in &want {
            let g = &got[name];
            assert_eq!(g.order, w.order, "column order of {name}");
            for (c, wc) in &w.columns {
                assert_eq!(g.columns.get(c), Some(wc), "column {name}.{c}");
            }
            assert_eq!(g.indexes, w.indexes, "indexes of {name}");
            assert_eq!(g.fks, w.fks, "foreign keys of {name}");
        }
        raw.0.close().await;
    })
    .await;
}

#[tokio::test]
async fn mysql_schema_matches_spec_without_prefix() {
    check(None).await;
}

#[tokio::test]
async fn mysql_schema_matches_spec_with_prefix() {
    check(Some("st")).await;
}

#[test]
fn type_normalisation() {
    assert_eq!(normalise_type("bigint(20) unsigned"), "bigint-unsigned");
    assert_eq!(normalise_type("bigint unsigned"), "bigint-unsigned");
    assert_eq!(normalise_type("int(10) unsigned"), "int-unsigned");
    assert_eq!(normalise_type("tinyint(1)"), "boolean");
    assert_eq!(normalise_type("varchar(64)"), "varchar(64)");
    assert_eq!(normalise_type("bigint(20)"), "bigint");
    assert_eq!(
        normalise_default(Some("'public'".into())).as_deref(),
        Some("public")
    );
    assert_eq!(normalise_default(Some("''".into())).as_deref(), Some(""));
    assert_eq!(normalise_default(Some("NULL".into())), None);
}
