//! A short tour of the storage on the embedded SQLite default (or whatever
//! `POSTGRESQL_CONNECTION_URI`, `MYSQL_CONNECTION_URI` or `DATABASE_URL` names):
//! open, migrate, create a tenant, sign a user up, create and rotate a session,
//! create and consume a passwordless code. Safe to run again.
//!
//! ```text
//! cargo run -p storage-tests --example demo
//! ```

use serde_json::json;
use storage_api::*;
// Linking the backends makes their URI schemes available to `open_from_env`.
use storage_mysql as _;
use storage_postgres as _;
use storage_sqlite as _;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn hash44(seed: &str) -> String {
    // A stand-in for the base64 SHA-256 the core computes: 44 characters.
    let mut s: String = seed.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    s.push_str(&"A".repeat(44));
    s.truncate(43);
    s.push('=');
    s
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (source, uri) = resolve_uri(None)?;
    println!("1. opening {} (from {source})", uri.redacted());
    let storage = open_parsed(uri, OpenOptions::default()).await?;
    println!("   backend: {}", storage.backend_name());

    let report = migrate_up(&*storage).await?;
    if report.applied.is_empty() {
        println!("2. migrations: nothing pending");
    }
    for m in &report.applied {
        println!("2. migrated {:04} {} in {:?}", m.version, m.name, m.elapsed);
    }

    let now = now_ms();
    let tenant = TenantIdentifier::new("public", "demo")?;
    storage
        .add_tenant(&TenantIdentifier::default_public(), now)
        .await
        .or_else(|e| match e {
            StorageError::DuplicateTenant => Ok(()),
            e => Err(e),
        })?;
    match storage.add_tenant(&tenant, now).await {
        Ok(()) => println!("3. created tenant {tenant}"),
        Err(StorageError::DuplicateTenant) => println!("3. tenant {tenant} already exists"),
        Err(e) => return Err(e.into()),
    }

    let user_id = uuid::Uuid::new_v4().to_string();
    let email = format!("demo-{}@example.com", &user_id[..8]);
    let user = storage
        .sign_up_email_password(&EmailPasswordSignUp {
            tenant: tenant.clone(),
            user_id: user_id.clone(),
            email: email.clone(),
            password_hash: Secret::new("$argon2id$v=19$demo-hash"),
            time_joined: now,
        })
        .await?;
    println!(
        "4. signed up {} <{email}> in {:?}",
        user.id, user.tenant_ids
    );
    match storage
        .sign_up_email_password(&EmailPasswordSignUp {
            tenant: tenant.clone(),
            user_id: uuid::Uuid::new_v4().to_string(),
            email: email.clone(),
            password_hash: Secret::new("other"),
            time_joined: now,
        })
        .await
    {
        Err(StorageError::DuplicateEmail) => {
            println!("   a second sign-up with that email: DuplicateEmail")
        }
        other => println!("   unexpected second sign-up result: {other:?}"),
    }

    let handle = uuid::Uuid::new_v4().to_string();
    storage
        .create_session(&NewSession {
            tenant: tenant.clone(),
            handle: handle.clone(),
            user_id: user_id.clone(),
            refresh_token_hash: "rt-hash-1".into(),
            session_data: json!({"role": "demo"}),
            expires_at: now + 3_600_000,
            jwt_payload: json!({"sub": user_id}),
            created_at: now,
            use_static_key: false,
        })
        .await?;
    println!("5. created session {handle}");
    let first = storage
        .rotate_refresh_token(
            &tenant,
            &RefreshRotation {
                handle: &handle,
                expected: "rt-hash-1",
                new_hash: "rt-hash-2",
                new_expiry: now + 7_200_000,
                now,
            },
        )
        .await?;
    let replay = storage
        .rotate_refresh_token(
            &tenant,
            &RefreshRotation {
                handle: &handle,
                expected: "rt-hash-1",
                new_hash: "rt-hash-3",
                new_expiry: now + 7_200_000,
                now,
            },
        )
        .await?;
    println!("6. rotated refresh token: {first:?}; replaying the old token: {replay:?}");

    let device = hash44(&uuid::Uuid::new_v4().simple().to_string());
    let link = hash44(&uuid::Uuid::new_v4().simple().to_string());
    let code_email = format!("code-{}@example.com", &user_id[..8]);
    storage
        .create_device_with_code(&NewDevice {
            tenant: tenant.clone(),
            device_id_hash: device.clone(),
            email: Some(code_email.clone()),
            phone_number: None,
            link_code_salt: hash44("salt"),
            code: Code {
                code_id: uuid::Uuid::new_v4().to_string(),
                device_id_hash: device.clone(),
                link_code_hash: link.clone(),
                created_at: now,
            },
        })
        .await?;
    println!("7. created passwordless device for <{code_email}> with one code");

    let consumed = run_transaction(&*storage, &TxOptions::default(), |tx| {
        let (tenant, device, link, code_email) = (
            tenant.clone(),
            device.clone(),
            link.clone(),
            code_email.clone(),
        );
        Box::pin(async move {
            let Some(d) = tx.device_for_update(&tenant, &device).await? else {
                return Err(TxError::Rollback("device is gone"));
            };
            if d.failed_attempts >= 5 {
                return Err(TxError::Rollback("too many attempts"));
            }
            match tx.code_by_link_code_hash(&tenant, &link).await? {
                Some(code) if code.device_id_hash == device => {
                    let n = tx.delete_devices_by_email(&tenant, &code_email).await?;
                    Ok(n)
                }
                _ => {
                    tx.increment_failed_attempts(&tenant, &device).await?;
                    Err(TxError::Commit("wrong code"))
                }
            }
        })
    })
    .await;
    match consumed {
        Ok(n) => println!("8. consumed the code; {n} device(s) removed"),
        Err(e) => println!("8. consuming failed: {e:?}"),
    }
    println!(
        "   users in {tenant}: {}, sessions: {}",
        storage
            .count_users(&UserScope::Tenant(tenant.clone()), &[])
            .await?,
        storage.count_sessions(&tenant).await?
    );
    storage.close().await;
    println!("done");
    Ok(())
}
