//! The data set: how every key is made from an index, so that Rust code, the bulk
//! loaders (SQL generating the same strings server-side) and the pgbench scripts
//! (integer variables) agree.
//!
//! Session handles and emails are decimal strings of 19 digits: pgbench variables are
//! integers, and an integer bound to a text parameter arrives as exactly this string.

/// Time joined of user 0, creation time of every loaded row (ms).
pub const T0: i64 = 1_700_000_000_000;
/// "Now" passed to operations that compare with the clock.
pub const NOW: i64 = T0 + 1_000_000;
/// Expiry of live sessions.
pub const FAR: i64 = 4_000_000_000_000;
/// Expiry of the sessions made to be deleted as expired.
pub const EXPIRED: i64 = 1_000;

/// Session handle of loaded session `i` is `HANDLE0 + i`.
pub const HANDLE0: i64 = 1_000_000_000_000_000_000;
/// Email of loaded user `i` is `EMAIL0 + i`.
pub const EMAIL0: i64 = 2_000_000_000_000_000_000;
/// New sessions (create session) get `NEW_HANDLE0 + n`.
pub const NEW_HANDLE0: i64 = 5_000_000_000_000_000_000;
/// New users (sign-up) get email `NEW_EMAIL0 + n`.
pub const NEW_EMAIL0: i64 = 6_000_000_000_000_000_000;
/// Devices (created or loaded for consumption) get email `DEVICE_EMAIL0 + n`.
pub const DEVICE_EMAIL0: i64 = 7_000_000_000_000_000_000;
/// Expired sessions get handle `EXPIRED_HANDLE0 + n`.
pub const EXPIRED_HANDLE0: i64 = 8_000_000_000_000_000_000;

/// pgbench's writing scripts key the user id (sign-up) and the device hash, code id
/// and link-code hash (create device) of their call `k` as `PGBENCH_KEY0 + k`: pgbench
/// makes only integers, where ours uses zero-padded strings of the same call number.
pub const PGBENCH_KEY0: i64 = 3_000_000_000_000_000_000;

/// The app of the read data set.
pub const APP: &str = "public";
/// The app that write operations write into; dropped and re-created between cells.
pub const WAPP: &str = "benchw";

/// Session data and JWT payload, as serde_json writes them.
pub const SESSION_DATA: &str = r#"{"role":"user"}"#;
/// JWT payload of every session.
pub const JWT_PAYLOAD: &str = r#"{"iss":"bench"}"#;
/// A password hash of realistic length.
pub const PASSWORD_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$Yd4lAqY0g0Uyl0Qd9NQdxgiZ6hYUMU5CxJDz3MlFa1o";
/// Link-code salt of every device (44 characters).
pub const SALT: &str = "00000000000000000000000000000000000000000000";

/// User id of loaded user `i`.
pub fn user_id(i: u64) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

/// User id of a signed-up user.
pub fn new_user_id(n: u64) -> String {
    format!("00000001-0000-4000-8000-{n:012}")
}

/// Session handle of loaded session `i`.
pub fn handle(i: u64) -> String {
    (HANDLE0 + i as i64).to_string()
}

/// Email of loaded user `i`.
pub fn email(i: u64) -> String {
    (EMAIL0 + i as i64).to_string()
}

/// Phase 2: the phone number of the passwordless login method of user `i`.
pub fn phone(i: u64) -> String {
    format!("+1{i:013}")
}

/// Phase 2: the third-party id of the third-party login method of user `i`: one per
/// block of 100 users, so that a provider tag matches the 10 of a block.
pub fn provider(i: u64) -> String {
    format!("idp{:09}", i / 100)
}

/// Time joined of loaded user `i`.
pub fn time_joined(i: u64) -> i64 {
    T0 + i as i64
}

/// Refresh-token hash at generation `g` (every loaded session starts at 0).
pub fn rt_hash(g: u32) -> String {
    format!("rt{g:042}")
}

/// The constant hash of the pgbench rotation script.
pub const PGBENCH_RT: &str = "rtpgbench";

/// Device id hash of device `n`.
pub fn device_hash(n: u64) -> String {
    format!("{n:044}")
}

/// Code id of the code of device `n`.
pub fn code_id(n: u64) -> String {
    format!("00000002-0000-4000-8000-{n:012}")
}

/// Link-code hash of the code of device `n`.
pub fn link_hash(n: u64) -> String {
    format!("L{n:043}")
}

/// Email of device `n`.
pub fn device_email(n: u64) -> String {
    (DEVICE_EMAIL0 + n as i64).to_string()
}

/// A cheap, well-mixed hash of `n` (splitmix64), for random picks.
pub fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
