//! Per-signature cost of RS256 (2048-bit key, the core's access-token signature) with
//! the pure-Rust `rsa` crate and with `ring`, on the same key and message, in one run.
//! `cargo run --release -p auth-core --example rs256 [signatures]`. A command that
//! prints its measurements, not a test.

use ring::signature as rs;
use rsa::pkcs1v15::{SigningKey, VerifyingKey};
use rsa::pkcs8::EncodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use sha2::Sha256;
use std::time::Instant;

fn per_op_us(n: u32, mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = std::env::args().nth(1).map_or(Ok(200), |s| s.parse())?;
    let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)?;
    let der = private.to_pkcs8_der()?;
    let msg = b"eyJraWQiOiJkLTE3MDAwMDAwMDAwMDAiLCJ0eXAiOiJKV1QiLCJ2ZXJzaW9uIjoiNSIsImFsZyI6IlJTMjU2In0.eyJzdWIiOiJ1c2VyIiwiZXhwIjoxNzAwMDAzNjAwfQ";

    let signer = SigningKey::<Sha256>::new(private.clone());
    let verifier = VerifyingKey::<Sha256>::new(private.to_public_key());
    let sig = signer.sign(msg);
    let rsa_sign = per_op_us(n, || {
        std::hint::black_box(signer.sign(msg).to_vec());
    });
    let rsa_verify = per_op_us(n * 10, || {
        assert!(verifier.verify(msg, &sig).is_ok());
    });

    let pair = rs::RsaKeyPair::from_pkcs8(der.as_bytes()).map_err(|e| e.to_string())?;
    let rng = ring::rand::SystemRandom::new();
    let mut out = vec![0; pair.public().modulus_len()];
    let ring_sign = per_op_us(n, || {
        pair.sign(&rs::RSA_PKCS1_SHA256, &rng, msg, &mut out)
            .expect("ring signs");
    });
    assert_eq!(
        out,
        sig.to_vec(),
        "PKCS#1 v1.5 is deterministic: same signature"
    );
    let public = rs::UnparsedPublicKey::new(
        &rs::RSA_PKCS1_2048_8192_SHA256,
        pair.public().as_ref().to_vec(),
    );
    let ring_verify = per_op_us(n * 10, || {
        assert!(public.verify(msg, &out).is_ok());
    });
    println!("| library | sign µs | verify µs |");
    println!("|---|---|---|");
    println!("| rsa 0.9 | {rsa_sign:.0} | {rsa_verify:.0} |");
    println!("| ring 0.17 | {ring_sign:.0} | {ring_verify:.0} |");
    Ok(())
}
