//! After migrating, the PostgreSQL catalog must hold exactly the phase-1 schema of
//! `shared/spec/schema.md`: every table, column (in order), type, nullability,
//! default, primary / unique / foreign key (name, columns, target, cascades) and
//! index (name, columns), plus the history table. Checked without a prefix in the
//! default schema of a fresh database, with a prefix in a non-default schema, with
//! `currentSchema=` from the URI, and with two prefixes sharing one schema.

use std::collections::BTreeMap;
use storage_api::OpenOptions;
use storage_postgres::tokio_postgres::{self, NoTls};
use storage_tests::backends::postgres::{base_uri, connect_admin, drop_schema, in_fresh_schema};
use storage_tests::harness::then_clean_up;

/// The expected schema, written out from schema.md. Line forms:
/// `table NAME`; `  COLUMN TYPE [NN] [=DEFAULT]`; `  pk COLS`;
/// `  uq COLUMN: COLS` (constraint `<table>_<COLUMN>_key`);
/// `  fk COLUMN: COLS -> TABLE(COLS) [update]` (constraint `<table>_<COLUMN>_fkey`,
/// always ON DELETE CASCADE, ON UPDATE CASCADE with `update`);
/// `  idx NAME: COLS` (index `<prefix>NAME`).
const EXPECTED: &str = r#"
table apps
  app_id varchar(64) NN ='public'
  created_at_time bigint
  pk app_id

table tenants
  app_id varchar(64) NN ='public'
  tenant_id varchar(64) NN ='public'
  created_at_time bigint
  pk app_id, tenant_id
  fk app_id: app_id -> apps(app_id)
  idx tenants_app_id_index: app_id

table key_value
  app_id varchar(64) ='public'
  tenant_id varchar(64) ='public'
  name varchar(128)
  value text
  created_at_time bigint
  pk app_id, tenant_id, name
  fk tenant_id: app_id, tenant_id -> tenants(app_id, tenant_id)
  idx key_value_tenant_id_index: app_id, tenant_id

table tenant_configs
  connection_uri_domain varchar(256) =''
  app_id varchar(64) ='public'
  tenant_id varchar(64) ='public'
  core_config text
  email_password_enabled boolean
  passwordless_enabled boolean
  third_party_enabled boolean
  is_first_factors_null boolean
  pk connection_uri_domain, app_id, tenant_id

table tenant_thirdparty_providers
  connection_uri_domain varchar(256) =''
  app_id varchar(64) ='public'
  tenant_id varchar(64) ='public'
  third_party_id varchar(28) NN
  name varchar(64)
  authorization_endpoint text
  authorization_endpoint_query_params text
  token_endpoint text
  token_endpoint_body_params text
  user_info_endpoint text
  user_info_endpoint_query_params text
  user_info_endpoint_headers text
  jwks_uri text
  oidc_discovery_endpoint text
  require_email boolean
  user_info_map_from_id_token_payload_user_id varchar(64)
  user_info_map_from_id_token_payload_email varchar(64)
  user_info_map_from_id_token_payload_email_verified varchar(64)
  user_info_map_from_user_info_endpoint_user_id varchar(64)
  user_info_map_from_user_info_endpoint_email varchar(64)
  user_info_map_from_user_info_endpoint_email_verified varchar(64)
  pk connection_uri_domain, app_id, tenant_id, third_party_id
  fk tenant_id: connection_uri_domain, app_id, tenant_id -> tenant_configs(connection_uri_domain, app_id, tenant_id)
  idx tenant_thirdparty_providers_tenant_id_index: connection_uri_domain, app_id, tenant_id

table tenant_thirdparty_provider_clients
  connection_uri_domain varchar(256) =''
  app_id varchar(64) ='public'
  tenant_id varchar(64) ='public'
  third_party_id varchar(28) NN
  client_type varchar(64) NN =''
  client_id varchar(256) NN
  client_secret text
  scope varchar(128)[]
  force_pkce boolean
  additional_config text
  pk connection_uri_domain, app_id, tenant_id, third_party_id, client_type
  fk third_party_id: connection_uri_domain, app_id, tenant_id, third_party_id -> tenant_thirdparty_providers(connection_uri_domain, app_id, tenant_id, third_party_id)

table tenant_first_factors
  connection_uri_domain varchar(256) =''
  app_id varchar(64) ='public'
  tenant_id varchar(64) ='public'
  factor_id varchar(128)
  pk connection_uri_domain, app_id, tenant_id, factor_id
  fk tenant_id: connection_uri_domain, app_id, tenant_id -> tenant_configs(connection_uri_domain, app_id, tenant_id)

table tenant_required_secondary_factors
  connection_uri_domain varchar(256) =''
  app_id varchar(64) ='public'
  tenant_id varchar(64) ='public'
  factor_id varchar(128)
  pk connection_uri_domain, app_id, tenant_id, factor_id
  fk tenant_id: connection_uri_domain, app_id, tenant_id -> tenant_configs(connection_uri_domain, app_id, tenant_id)

table app_id_to_user_id
  app_id varchar(64) NN ='public'
  user_id char(36) NN
  recipe_id varchar(128) NN
  primary_or_recipe_user_id char(36) NN
  is_linked_or_is_a_primary_user boolean NN =false
  time_joined bigint NN =0
  primary_or_recipe_user_time_joined bigint NN =0
  pk app_id, user_id
  fk primary_or_recipe_user_id: app_id, primary_or_recipe_user_id -> app_id_to_user_id(app_id, user_id) update
  fk app_id: app_id -> apps(app_id)
  idx app_id_to_user_id_app_id_index: app_id
  idx app_id_to_user_id_primary_user_id_index: primary_or_recipe_user_id, app_id
  idx app_id_to_user_id_user_id_index: user_id, app_id

table all_auth_recipe_users
  app_id varchar(64) ='public'
  tenant_id varchar(64) ='public'
  user_id char(36) NN
  primary_or_recipe_user_id char(36) NN
  is_linked_or_is_a_primary_user boolean NN =false
  recipe_id varchar(128) NN
  time_joined bigint NN
  primary_or_recipe_user_time_joined bigint NN
  pk app_id, tenant_id, user_id
  fk tenant_id: app_id, tenant_id -> tenants(app_id, tenant_id)
  fk primary_or_recipe_user_id: app_id, primary_or_recipe_user_id -> app_id_to_user_id(app_id, user_id) update
  fk user_id: app_id, user_id -> app_id_to_user_id(app_id, user_id) update
  idx all_auth_recipe_users_app_id_user_id_index: app_id, user_id
  idx all_auth_recipe_users_pagination_index1: app_id, tenant_id, primary_or_recipe_user_time_joined DESC, primary_or_recipe_user_id DESC
  idx all_auth_recipe_users_pagination_index2: app_id, tenant_id, primary_or_recipe_user_time_joined, primary_or_recipe_user_id DESC
  idx all_auth_recipe_users_pagination_index3: recipe_id, app_id, tenant_id, primary_or_recipe_user_time_joined DESC, primary_or_recipe_user_id DESC
  idx all_auth_recipe_users_pagination_index4: recipe_id, app_id, tenant_id, primary_or_recipe_user_time_joined, primary_or_recipe_user_id DESC
  idx all_auth_recipe_users_primary_user_id_index: primary_or_recipe_user_id, app_id
  idx all_auth_recipe_users_recipe_id_index: app_id, recipe_id, tenant_id

table emailpassword_users
  app_id varchar(64) ='public'
  user_id char(36) NN
  email varchar(256) NN
  password_hash varchar(256) NN
  time_joined bigint NN
  pk app_id, user_id
  fk user_id: app_id, user_id -> app_id_to_user_id(app_id, user_id) update
  idx emailpassword_users_email_index: app_id, email

table emailpassword_user_to_tenant
  app_id varchar(64) ='public'
  tenant_id varchar(64) ='public'
  user_id char(36) NN
  email varchar(256) NN
  pk app_id, tenant_id, user_id
  uq email: app_id, tenant_id, email
  fk user_id: app_id, tenant_id, user_id -> all_auth_recipe_users(app_id, tenant_id, user_id)

table thirdparty_users
  app_id varchar(64) ='public'
  third_party_id varchar(28) NN
  third_party_user_id varchar(256) NN
  user_id char(36) NN
  email varchar(256) NN
  time_joined bigint NN
  pk app_id, user_id
  fk user_id: app_id, user_id -> app_id_to_user_id(app_id, user_id) update
  idx thirdparty_users_email_index: app_id, email
  idx thirdparty_users_thirdparty_user_id_index: app_id, third_party_id, third_party_user_id

table thirdparty_user_to_tenant
  app_id varchar(64) ='public'
  tenant_id varchar(64) ='public'
  user_id char(36) NN
  third_party_id varchar(28) NN
  third_party_user_id varchar(256) NN
  pk app_id, tenant_id, user_id
  uq third_party_user_id: app_id, tenant_id, third_party_id, third_party_user_id
  fk user_id: app_id, tenant_id, user_id -> all_auth_recipe_users(app_id, tenant_id, user_id)

table passwordless_users
  app_id varchar(64) ='public'
  user_id char(36) NN
  email varchar(256)
  phone_number varchar(256)
  time_joined bigint NN
  pk app_id, user_id
  fk user_id: app_id, user_id -> app_id_to_user_id(app_id, user_id) update
  idx passwordless_users_email_index: app_id, email
  idx passwordless_users_phone_number_index: app_id, phone_number

table passwordless_user_to_tenant
  app_id varchar(64) ='public'
  tenant_id varchar(64) ='public'
  user_id char(36) NN
  email varchar(256)
  phone_number varchar(256)
  pk app_id, tenant_id, user_id
  uq email: app_id, tenant_id, email
  uq phone_number: app_id, tenant_id, phone_number
  fk user_id: app_id, tenant_id, user_id -> all_auth_recipe_users(app_id, tenant_id, user_id)

table session_info
  app_id varchar(64) ='public'
  tenant_id varchar(64) ='public'
  session_handle varchar(255) NN
  user_id varchar(128) NN
  refresh_token_hash_2 varchar(128) NN
  session_data text
  expires_at bigint NN
  created_at_time bigint NN
  jwt_user_payload text
  use_static_key boolean NN
  prev_refresh_token_hash_2 varchar(128)
  refresh_token_rotated_at bigint
  pk app_id, tenant_id, session_handle
  fk tenant_id: app_id, tenant_id -> tenants(app_id, tenant_id)
  idx session_info_expires_at_index: expires_at
  idx session_info_user_id_app_id_index: user_id, app_id
  idx session_info_tenant_id_index: app_id, tenant_id

table session_access_token_signing_keys
  app_id varchar(64) ='public'
  created_at_time bigint NN
  value text
  pk app_id, created_at_time
  fk app_id: app_id -> apps(app_id)
  idx session_access_token_signing_keys_app_id_index: app_id

table passwordless_devices
  app_id varchar(64) ='public'
  tenant_id varchar(64) ='public'
  device_id_hash char(44) NN
  email varchar(256)
  phone_number varchar(256)
  link_code_salt char(44) NN
  failed_attempts integer NN
  pk app_id, tenant_id, device_id_hash
  fk tenant_id: app_id, tenant_id -> tenants(app_id, tenant_id)
  idx passwordless_devices_email_index: app_id, tenant_id, email
  idx passwordless_devices_phone_number_index: app_id, tenant_id, phone_number
  idx passwordless_devices_tenant_id_index: app_id, tenant_id

table passwordless_codes
  app_id varchar(64) ='public'
  tenant_id varchar(64) ='public'
  code_id char(36) NN
  device_id_hash char(44) NN
  link_code_hash char(44) NN
  created_at bigint NN
  pk app_id, tenant_id, code_id
  uq link_code_hash: app_id, tenant_id, link_code_hash
  fk device_id_hash: app_id, tenant_id, device_id_hash -> passwordless_devices(app_id, tenant_id, device_id_hash) update
  idx passwordless_codes_created_at_index: app_id, tenant_id, created_at
  idx passwordless_codes_device_id_hash_index: app_id, tenant_id, device_id_hash

table emailpassword_pswd_reset_tokens
  app_id varchar(64) ='public'
  user_id char(36) NN
  token varchar(128) NN
  email varchar(256)
  token_expiry bigint NN
  pk app_id, user_id, token
  uq token: token
  fk user_id: app_id, user_id -> app_id_to_user_id(app_id, user_id) update
  idx emailpassword_pswd_reset_tokens_token_expiry_index: token_expiry
  idx emailpassword_pswd_reset_tokens_user_id_index: app_id, user_id

table emailverification_tokens
  app_id varchar(64) ='public'
  tenant_id varchar(64) ='public'
  user_id varchar(128) NN
  email varchar(256) NN
  token varchar(128) NN
  token_expiry bigint NN
  pk app_id, tenant_id, user_id, email, token
  uq token: token
  fk tenant_id: app_id, tenant_id -> tenants(app_id, tenant_id)
  idx emailverification_tokens_token_expiry_index: token_expiry
  idx emailverification_tokens_tenant_id_index: app_id, tenant_id

table emailverification_verified_emails
  app_id varchar(64) ='public'
  user_id varchar(128) NN
  email varchar(256) NN
  pk app_id, user_id, email
  fk app_id: app_id -> apps(app_id)
  idx emailverification_verified_emails_app_id_index: app_id
  idx emailverification_verified_emails_app_id_email_index: app_id, email

table schema_migrations
  version bigint NN
  name varchar(255) NN
  checksum char(64) NN
  state varchar(16) NN
  applied_at bigint NN
  execution_ms bigint NN
  pk version
"#;

/// (name, kind, columns, referenced table, referenced columns, on delete, on update).
type Constraint = (
    String,
    String,
    Vec<String>,
    String,
    Vec<String>,
    String,
    String,
);

/// One table as the catalog describes it (or as expected), comparable as a whole.
#[derive(Debug, Default, PartialEq, Eq)]
struct Table {
    /// (name, type as `format_type` prints it, nullable, default expression).
    columns: Vec<(String, String, bool, Option<String>)>,
    /// (name, kind, columns, referenced table, referenced columns, on delete, on
    /// update), sorted by name. Kinds: `p`, `u`, `f`; actions: `c` cascade, `a` none.
    constraints: Vec<Constraint>,
    /// (name, column list as `pg_get_indexdef` prints it), sorted by name; indexes
    /// backing a key are not listed.
    indexes: Vec<(String, String)>,
}

fn list(s: &str) -> Vec<String> {
    s.split(',').map(|c| c.trim().to_owned()).collect()
}

fn pg_type(short: &str) -> String {
    if let Some(rest) = short.strip_prefix("varchar") {
        format!("character varying{rest}")
    } else if let Some(rest) = short.strip_prefix("char") {
        format!("character{rest}")
    } else {
        short.to_owned()
    }
}

fn pg_default(short: &str, ty: &str) -> String {
    if short.starts_with('\'') && ty.starts_with("character varying") {
        format!("{short}::character varying")
    } else {
        short.to_owned()
    }
}

/// Parses [`EXPECTED`] for `prefix`.
fn expected(prefix: &str) -> BTreeMap<String, Table> {
    let mut out = BTreeMap::new();
    let mut name = String::new();
    let mut t = Table::default();
    let mut pk: Vec<String> = Vec::new();
    let mut flush = |name: &str, mut t: Table, pk: &[String]| {
        if name.is_empty() {
            return;
        }
        for c in &mut t.columns {
            if pk.contains(&c.0) {
                c.2 = false;
            }
        }
        t.constraints.sort();
        t.indexes.sort();
        out.insert(name.to_owned(), t);
    };
    for line in EXPECTED.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(n) = line.strip_prefix("table ") {
            flush(&name, std::mem::take(&mut t), &pk);
            name = format!("{prefix}{n}");
            pk.clear();
        } else if let Some(cols) = line.strip_prefix("pk ") {
            pk = list(cols);
            t.constraints.push((
                format!("{name}_pkey"),
                "p".into(),
                pk.clone(),
                String::new(),
                vec![],
                " ".into(),
                " ".into(),
            ));
        } else if let Some(rest) = line.strip_prefix("uq ") {
            let (col, cols) = rest.split_once(": ").unwrap();
            t.constraints.push((
                format!("{name}_{col}_key"),
                "u".into(),
                list(cols),
                String::new(),
                vec![],
                " ".into(),
                " ".into(),
            ));
        } else if let Some(rest) = line.strip_prefix("fk ") {
            let (col, rest) = rest.split_once(": ").unwrap();
            let (cols, target) = rest.split_once(" -> ").unwrap();
            let (target, update) = match target.strip_suffix(" update") {
                Some(t) => (t, "c"),
                None => (target, "a"),
            };
            let (table, ref_cols) = target.trim_end_matches(')').split_once('(').unwrap();
            t.constraints.push((
                format!("{name}_{col}_fkey"),
                "f".into(),
                list(cols),
                format!("{prefix}{table}"),
                list(ref_cols),
                "c".into(),
                update.into(),
            ));
        } else if let Some(rest) = line.strip_prefix("idx ") {
            let (idx, cols) = rest.split_once(": ").unwrap();
            t.indexes.push((format!("{prefix}{idx}"), cols.to_owned()));
        } else {
            let mut parts = line.split_whitespace();
            let col = parts.next().unwrap().to_owned();
            let ty = pg_type(parts.next().unwrap());
            let mut nullable = true;
            let mut default = None;
            for p in parts {
                if p == "NN" {
                    nullable = false;
                } else if let Some(d) = p.strip_prefix('=') {
                    default = Some(pg_default(d, &ty));
                } else {
                    panic!("bad expectation line: {line}");
                }
            }
            t.columns.push((col, ty, nullable, default));
        }
    }
    flush(&name, t, &pk);
    out
}

/// Reads every table of `schema` from the catalog.
async fn actual(c: &tokio_postgres::Client, schema: &str) -> BTreeMap<String, Table> {
    let mut out = BTreeMap::new();
    let tables = c
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY 1",
            &[&schema],
        )
        .await
        .unwrap();
    for row in tables {
        let name: String = row.get(0);
        let mut t = Table::default();
        for r in c
            .query(
                "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, \
                 pg_get_expr(d.adbin, d.adrelid) \
                 FROM pg_attribute a \
                 JOIN pg_class t ON t.oid = a.attrelid \
                 JOIN pg_namespace n ON n.oid = t.relnamespace \
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
                 WHERE n.nspname = $1 AND t.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped \
                 ORDER BY a.attnum",
                &[&schema, &name],
            )
            .await
            .unwrap()
        {
            t.columns.push((r.get(0), r.get(1), r.get(2), r.get(3)));
        }
        for r in c
            .query(
                "SELECT k.conname::text, k.contype::text, \
                 ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(n, i) \
                       JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.i), \
                 COALESCE(f.relname::text, ''), \
                 ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY u(n, i) \
                       JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.i), \
                 k.confdeltype::text, k.confupdtype::text \
                 FROM pg_constraint k \
                 JOIN pg_class t ON t.oid = k.conrelid \
                 JOIN pg_namespace n ON n.oid = t.relnamespace \
                 LEFT JOIN pg_class f ON f.oid = k.confrelid \
                 WHERE n.nspname = $1 AND t.relname = $2 AND k.contype IN ('p', 'u', 'f', 'c', 'x') \
                 ORDER BY 1",
                &[&schema, &name],
            )
            .await
            .unwrap()
        {
            t.constraints.push((
                r.get(0),
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                r.get(5),
                r.get(6),
            ));
        }
        for r in c
            .query(
                "SELECT i.relname::text, pg_get_indexdef(i.oid) \
                 FROM pg_index x \
                 JOIN pg_class i ON i.oid = x.indexrelid \
                 JOIN pg_class t ON t.oid = x.indrelid \
                 JOIN pg_namespace n ON n.oid = t.relnamespace \
                 WHERE n.nspname = $1 AND t.relname = $2 \
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid) \
                 ORDER BY 1",
                &[&schema, &name],
            )
            .await
            .unwrap()
        {
            let def: String = r.get(1);
            let cols = def
                .rsplit_once(" (")
                .map(|(_, c)| c.trim_end_matches(')').to_owned())
                .unwrap_or(def.clone());
            assert!(
                def.contains("USING btree"),
                "{def}: every index is a plain btree"
            );
            t.indexes.push((r.get(0), cols));
        }
        t.constraints.sort();
        t.indexes.sort();
        out.insert(name, t);
    }
    out
}

/// Compares table by table, so a failure names the table and shows both sides.
fn compare(schema: &str, got: &BTreeMap<String, Table>, want: &BTreeMap<String, Table>) {
    let got_names: Vec<_> = got.keys().collect();
    let want_names: Vec<_> = want.keys().collect();
    assert_eq!(got_names, want_names, "tables of schema {schema}");
    for (name, w) in want {
        let g = &got[name];
        assert_eq!(g.columns, w.columns, "columns of {schema}.{name}");
        assert_eq!(
            g.constraints, w.constraints,
            "constraints of {schema}.{name}"
        );
        assert_eq!(g.indexes, w.indexes, "indexes of {schema}.{name}");
    }
}

/// Opens, migrates and closes a storage on `uri` with `options`.
async fn migrate(uri: &str, options: OpenOptions) {
    let storage = storage_api::open(uri, options)
        .await
        .expect("open postgres");
    storage_api::migrate_up(&*storage)
        .await
        .expect("migrate postgres");
    storage.close().await;
}

async fn admin_in(client: &tokio_postgres::Client, schema: &str) {
    client
        .batch_execute(&format!("SET search_path TO {schema}"))
        .await
        .unwrap();
}

#[test]
fn the_expectation_covers_every_phase1_table() {
    let e = expected("");
    assert_eq!(e.len(), 24, "23 phase-1 tables plus the history table");
    let fks: usize = e
        .values()
        .map(|t| t.constraints.iter().filter(|c| c.1 == "f").count())
        .sum();
    assert_eq!(fks, 24);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_schema_of_a_fresh_database_without_prefix() {
    let admin = connect_admin().await;
    let db = storage_tests::harness::unique_name("tdb");
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .unwrap();
    let mut uri = storage_api::ConnectionUri::parse(&base_uri()).unwrap();
    uri.path = db.clone();
    let test = {
        let uri = uri.expose();
        async move {
            migrate(&uri, OpenOptions::default()).await;
            let (c, conn) = tokio_postgres::connect(&uri, NoTls).await.unwrap();
            tokio::spawn(conn);
            let got = actual(&c, "public").await;
            compare("public", &got, &expected(""));
        }
    };
    then_clean_up(test, async {
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixed_tables_in_a_non_default_schema() {
    in_fresh_schema(|schema| async move {
        migrate(
            &base_uri(),
            OpenOptions {
                table_prefix: Some("st".into()),
                schema: Some(schema.clone()),
                ..Default::default()
            },
        )
        .await;
        let c = connect_admin().await;
        compare(&schema, &actual(&c, &schema).await, &expected("st_"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_from_the_uri_is_created_and_two_prefixes_share_it() {
    // Not created beforehand: the backend creates it. Upper case folds to lower.
    let schema = storage_tests::harness::unique_name("t");
    let uri = format!("{}?currentSchema={}", base_uri(), schema.to_uppercase());
    let test = {
        let schema = schema.clone();
        async move {
            migrate(&uri, OpenOptions::default()).await;
            for p in ["a", "b"] {
                migrate(
                    &uri,
                    OpenOptions {
                        table_prefix: Some(p.into()),
                        ..Default::default()
                    },
                )
                .await;
            }
            let c = connect_admin().await;
            admin_in(&c, &schema).await;
            let mut want = expected("");
            want.extend(expected("a_"));
            want.extend(expected("b_"));
            compare(&schema, &actual(&c, &schema).await, &want);
        }
    };
    then_clean_up(test, drop_schema(&schema)).await;
}
