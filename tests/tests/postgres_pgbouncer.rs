//! The PostgreSQL backend through PgBouncer 1.18 in transaction mode
//! (`pooler=transaction`), whose small server pool (3 per database, see
//! `.ci/extra-servers.sh`) makes the storage's connections share server
//! connections: concurrent work and concurrent migrations succeed, and a schema
//! (a session setting) is refused with advice.

use std::sync::Arc;
use storage_api::{
    KeyValue, OpenOptions, Storage, StorageError, TenantIdentifier, TxError, TxOptions,
};
use storage_tests::backends::postgres::{base_uri, connect_admin, connect_admin_to};
use storage_tests::harness::{then_clean_up, unique_name};
use storage_tests::servers::{pgbouncer_uri, with_database};

/// How many migrations database `db` records.
async fn migrations_recorded(db: &str) -> i64 {
    connect_admin_to(&with_database(&base_uri(), db))
        .await
        .query_one("SELECT COUNT(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0)
}

/// Runs `test` with a fresh database (its URI through PgBouncer), dropped after.
async fn in_fresh_database<F, Fut>(test: F)
where
    F: FnOnce(String, String) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let db = unique_name("t");
    connect_admin()
        .await
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .unwrap();
    let uri = with_database(&pgbouncer_uri(), &db);
    let drop_db = db.clone();
    then_clean_up(test(db, uri), async move {
        connect_admin()
            .await
            .batch_execute(&format!("DROP DATABASE IF EXISTS {drop_db} WITH (FORCE)"))
            .await
            .unwrap();
    })
    .await;
}

async fn open(uri: &str, pool: u32) -> Arc<dyn Storage> {
    storage_api::open(
        uri,
        OpenOptions {
            pool_size: Some(pool),
            ..Default::default()
        },
    )
    .await
    .expect("open through PgBouncer")
}

#[tokio::test]
async fn concurrent_migrations_and_work_through_the_pooler() {
    in_fresh_database(|db, uri| async move {
        // Two storages migrate at once: the transaction-level migration lock
        // serialises them, and the migrations are recorded once.
        let (a, b) = (open(&uri, 8).await, open(&uri, 8).await);
        let (ra, rb) = tokio::join!(storage_api::migrate_up(&*a), storage_api::migrate_up(&*b));
        ra.expect("migrate a");
        rb.expect("migrate b");
        assert_eq!(
            migrations_recorded(&db).await,
            storage_postgres::migrations().len() as i64
        );

        let t = TenantIdentifier::default_public();
        a.add_tenant(&t, 1).await.unwrap();
        // 16 caller connections over 3 server connections: reads, writes and
        // transactions holding row locks interleave on shared server connections.
        let mut tasks = Vec::new();
        for i in 0..64 {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            tasks.push(tokio::spawn(async move {
                let t = TenantIdentifier::default_public();
                s.list_apps_and_tenants().await?;
                let key = format!("k{}", i % 4);
                let r = storage_api::run_transaction(&*s, &TxOptions::default(), |tx| {
                    let (t, key) = (t.clone(), key.clone());
                    Box::pin(async move {
                        let v = tx.kv_get_for_update(&t, &key).await?;
                        let n: i64 = v.map(|v| v.value.parse().unwrap_or(0)).unwrap_or(0) + 1;
                        let value = KeyValue {
                            value: n.to_string(),
                            created_at: 0,
                        };
                        tx.kv_set(&t, &key, &value).await?;
                        Ok::<_, TxError<()>>(())
                    })
                })
                .await;
                match r {
                    Ok(()) => {}
                    Err(TxError::Storage(e)) => return Err(e),
                    Err(other) => panic!("{other:?}"),
                }
                Ok::<_, StorageError>(())
            }));
        }
        for t in tasks {
            t.await.unwrap().expect("operation through the pooler");
        }
        // Every increment counted: the row locks held across the pooler.
        let mut total = 0;
        for k in 0..4 {
            let v = a.kv_get(&t, &format!("k{k}")).await.unwrap().unwrap();
            total += v.value.parse::<i64>().unwrap();
        }
        assert_eq!(total, 64);
        a.close().await;
        b.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_schema_is_refused_behind_a_transaction_pooler() {
    let e = storage_api::open(
        &format!("{}&currentSchema=auth", pgbouncer_uri()),
        OpenOptions::default(),
    )
    .await
    .err()
    .expect("a schema behind a transaction pooler must be refused");
    assert!(matches!(e, StorageError::Config(_)), "{e:?}");
    assert!(e.to_string().contains("search_path"), "{e}");
}

#[tokio::test]
async fn the_migrate_cli_says_what_it_does_behind_a_pooler() {
    in_fresh_database(|db, uri| async move {
        let args = ["migrate", "--database-url", uri.as_str(), "up"]
            .map(str::to_owned)
            .to_vec();
        let out = migrate_cli::run(args).await;
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        assert!(
            out.stdout.contains("transaction-mode pooler")
                && out.stdout.contains("transaction-level advisory lock"),
            "{}",
            out.stdout
        );
        assert_eq!(
            migrations_recorded(&db).await,
            storage_postgres::migrations().len() as i64
        );
    })
    .await;
}
