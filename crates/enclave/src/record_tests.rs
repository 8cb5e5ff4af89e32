//! Unit tests of [`super::RecordCipher`].

use super::*;

const NODE: &[u8] = b"node-1";

fn cipher(secret: &LedgerSecret, table: &str) -> RecordCipher {
    RecordCipher::new(secret, NODE, table)
}

fn assert_names_table(err: &Error, table: &str) {
    assert!(
        err.to_string().contains(&format!("`{table}`")),
        "error `{err}` does not name `{table}`"
    );
}

#[test]
fn seal_open_roundtrip() {
    let c = cipher(&LedgerSecret::generate(1), "accounts");
    for len in [0, 1, 27, 28, 29, 60, 61, 1000, 65532, 65533, 200_000] {
        let value: Vec<u8> = (0..len).map(|i| (i % 251) as u8 + 1).collect();
        let record = c.seal(b"key", &value);
        assert_eq!(c.open(b"key", &record).unwrap(), value, "length {len}");
    }
}

#[test]
fn wrong_logical_key_fails_naming_the_table() {
    let c = cipher(&LedgerSecret::generate(1), "storage");
    let record = c.seal(b"slot-a", b"value");
    match c.open(b"slot-b", &record) {
        Err(Error::Decrypt { table }) => assert_eq!(table, "storage"),
        other => panic!("expected Decrypt, got {other:?}"),
    }
}

#[test]
fn record_from_another_table_fails() {
    let secret = LedgerSecret::generate(1);
    let a = cipher(&secret, "accounts");
    let b = cipher(&secret, "storage");
    let record = a.seal(b"k", b"value");
    assert!(matches!(b.open(b"k", &record), Err(Error::Decrypt { table }) if table == "storage"));
    // Same secret and table but another node: different keys.
    let other_node = RecordCipher::new(&secret, b"node-2", "accounts");
    assert!(matches!(
        other_node.open(b"k", &record),
        Err(Error::Decrypt { .. })
    ));
}

#[test]
fn flipped_byte_anywhere_fails() {
    let c = cipher(&LedgerSecret::generate(1), "blocks");
    let record = c.seal(b"k", b"some block body");
    for i in 0..record.len() {
        for bit in [0x01, 0x80] {
            let mut t = record.clone();
            t[i] ^= bit;
            let err = c
                .open(b"k", &t)
                .expect_err(&format!("flip of byte {i} not detected"));
            assert_names_table(&err, "blocks");
        }
    }
}

#[test]
fn truncated_record_is_malformed() {
    let c = cipher(&LedgerSecret::generate(1), "blocklog");
    let record = c.seal(b"k", b"v");
    assert!(matches!(
        c.open(b"k", &record[..record.len() - 1]),
        Err(Error::Malformed { .. })
    ));
    assert!(matches!(c.open(b"k", &[]), Err(Error::Malformed { .. })));
    let mut longer = record.clone();
    longer.push(0);
    assert!(c.open(b"k", &longer).is_err());
}

#[test]
fn lengths_in_one_bucket_are_equal() {
    let c = cipher(&LedgerSecret::generate(1), "accounts");
    let one = c.seal(b"k", &[1u8; 1]);
    let twenty = c.seal(b"k", &[1u8; 20]);
    assert_eq!(one.len(), twenty.len());
    assert_eq!(one.len(), RECORD_HEADER_LEN + 32 + TAG_LEN);
    assert_ne!(c.seal(b"k", &[1u8; 29]).len(), one.len());
}

#[test]
fn bucket_sizes() {
    let cases = [
        (0, 32),
        (28, 32),
        (29, 64),
        (60, 64),
        (61, 128),
        (65532, 65536),
        (65533, 131072),
        (131068, 131072),
        (131069, 196608),
    ];
    for (len, padded) in cases {
        assert_eq!(padded_len(len), padded, "value of {len} bytes");
    }
}

#[test]
fn two_seals_of_the_same_value_differ() {
    let c = cipher(&LedgerSecret::generate(1), "accounts");
    let a = c.seal(b"k", b"same");
    let b = c.seal(b"k", b"same");
    assert_ne!(a, b);
    assert_ne!(a[RECORD_HEADER_LEN..], b[RECORD_HEADER_LEN..]);
}

#[test]
fn nonces_count_up_from_zero() {
    let c = cipher(&LedgerSecret::generate(1), "accounts");
    let nonce_of = |r: &[u8]| r[RECORD_HEADER_LEN - NONCE_LEN..RECORD_HEADER_LEN].to_vec();
    let first = c.seal(b"k", b"v");
    let second = c.seal(b"k", b"v");
    assert_eq!(nonce_of(&first), [0u8; 12]);
    let mut one = [0u8; 12];
    one[11] = 1;
    assert_eq!(nonce_of(&second), one);
}

#[test]
fn record_opens_in_a_later_instance() {
    let secret = LedgerSecret::generate(5);
    let first = cipher(&secret, "storage");
    let second = cipher(&secret, "storage");
    assert_ne!(
        first.current.salt, second.current.salt,
        "epochs must differ"
    );
    let r1 = first.seal(b"slot", b"from first boot");
    let r2 = second.seal(b"slot", b"from second boot");
    assert_eq!(second.open(b"slot", &r1).unwrap(), b"from first boot");
    assert_eq!(first.open(b"slot", &r2).unwrap(), b"from second boot");
    // Opened twice: the second time from the cache.
    assert_eq!(second.open(b"slot", &r1).unwrap(), b"from first boot");
    assert_eq!(second.others.read().unwrap().len(), 1);
}

#[test]
fn foreign_epoch_cache_is_bounded_and_skips_forgeries() {
    let secret = LedgerSecret::generate(1);
    let reader = cipher(&secret, "storage");
    for i in 0..(CACHE_CAP + 20) {
        let writer = cipher(&secret, "storage");
        let record = writer.seal(b"k", &i.to_le_bytes());
        assert_eq!(reader.open(b"k", &record).unwrap(), i.to_le_bytes());
    }
    assert_eq!(reader.others.read().unwrap().len(), CACHE_CAP);

    let fresh = cipher(&secret, "storage");
    let mut forged = cipher(&secret, "storage").seal(b"k", b"v");
    forged[10] ^= 1; // inside the epoch salt
    assert!(matches!(
        fresh.open(b"k", &forged),
        Err(Error::Decrypt { .. })
    ));
    assert!(fresh.others.read().unwrap().is_empty());
}

#[test]
fn wrong_secret_and_unknown_version_fail() {
    let record = cipher(&LedgerSecret::generate(1), "accounts").seal(b"k", b"v");
    let other = cipher(&LedgerSecret::generate(1), "accounts");
    assert!(matches!(
        other.open(b"k", &record),
        Err(Error::Decrypt { .. })
    ));
    let newer = cipher(&LedgerSecret::generate(2), "accounts");
    match newer.open(b"k", &record) {
        Err(Error::UnknownVersion { table, version }) => {
            assert_eq!((table.as_str(), version), ("accounts", 1));
        }
        other => panic!("expected UnknownVersion, got {other:?}"),
    }
}

#[test]
fn rotation_opens_old_records_and_seals_with_newest() {
    let v1 = LedgerSecret::generate(1);
    let v2 = LedgerSecret::generate(2);
    let mut c = cipher(&v1, "accounts");
    let hidden_before = c.hide_key(b"alice");
    let old = c.seal(b"alice", b"balance 10");
    c.add_secret(&v2).unwrap();
    assert_eq!(c.version(), 2);
    let new = c.seal(b"alice", b"balance 20");
    assert_eq!(u32::from_le_bytes(new[1..5].try_into().unwrap()), 2);
    assert_eq!(c.open(b"alice", &old).unwrap(), b"balance 10");
    assert_eq!(c.open(b"alice", &new).unwrap(), b"balance 20");
    assert_eq!(c.hide_key(b"alice"), hidden_before);

    // A node holding only v1 cannot read v2 records.
    let only_v1 = cipher(&v1, "accounts");
    assert!(matches!(
        only_v1.open(b"alice", &new),
        Err(Error::UnknownVersion { version: 2, .. })
    ));

    // Adding an older version keeps sealing under the newest.
    let mut from_v2 = cipher(&v2, "accounts");
    from_v2.add_secret(&v1).unwrap();
    assert_eq!(from_v2.version(), 2);
    assert_eq!(from_v2.open(b"alice", &old).unwrap(), b"balance 10");

    // Same secret again is fine; a different secret under a held version is not.
    c.add_secret(&v2).unwrap();
    assert!(matches!(
        c.add_secret(&LedgerSecret::generate(2)),
        Err(Error::InvalidKey(_))
    ));
}

#[test]
fn hide_key_is_deterministic_and_separated() {
    let secret = LedgerSecret::generate(1);
    let accounts = cipher(&secret, "accounts");
    let again = cipher(&secret, "accounts");
    let storage = cipher(&secret, "storage");
    assert_eq!(accounts.hide_key(b"alice"), again.hide_key(b"alice"));
    assert_ne!(accounts.hide_key(b"alice"), accounts.hide_key(b"bob"));
    assert_ne!(accounts.hide_key(b"alice"), storage.hide_key(b"alice"));
    let other_node = RecordCipher::new(&secret, b"node-2", "accounts");
    assert_ne!(accounts.hide_key(b"alice"), other_node.hide_key(b"alice"));
    assert_ne!(&accounts.hide_key(b"alice")[..5], b"alice");
}

#[test]
fn plaintext_does_not_appear_in_record() {
    let c = cipher(&LedgerSecret::generate(1), "storage");
    let value = b"0xdeadbeefcafebabe-known-plaintext";
    let key = b"0x1234567890abcdef-logical-key";
    let record = c.seal(key, value);
    for needle in [&value[..12], &key[..12]] {
        assert!(!record.windows(needle.len()).any(|w| w == needle));
    }
    let zeros = c.seal(key, &[0u8; 64]);
    assert!(
        !zeros[RECORD_HEADER_LEN..]
            .windows(16)
            .any(|w| w == [0u8; 16])
    );
}

#[test]
fn long_logical_keys_use_the_heap_aad() {
    let c = cipher(&LedgerSecret::generate(1), "logs");
    let long_key = vec![7u8; STACK_AAD * 2];
    let record = c.seal(&long_key, b"v");
    assert_eq!(c.open(&long_key, &record).unwrap(), b"v");
    let mut other = long_key.clone();
    other[STACK_AAD + 10] ^= 1;
    assert!(matches!(
        c.open(&other, &record),
        Err(Error::Decrypt { .. })
    ));
}

#[test]
fn last_counter_value_is_used_then_sealing_stops() {
    let c = cipher(&LedgerSecret::generate(1), "accounts");
    c.current.counter.store(u64::MAX - 1, Ordering::Relaxed);
    let record = c.seal(b"k", b"v");
    assert_eq!(c.open(b"k", &record).unwrap(), b"v");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.seal(b"k", b"v")));
    assert!(result.is_err(), "sealing past the last nonce must panic");
    assert_eq!(
        c.current.counter.load(Ordering::Relaxed),
        u64::MAX,
        "counter must not wrap"
    );
}

#[test]
fn cipher_is_send_sync_and_debug_is_redacted() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<RecordCipher>();
    let shown = format!("{:?}", cipher(&LedgerSecret::generate(9), "accounts"));
    assert_eq!(
        shown,
        "RecordCipher { table: \"accounts\", version: 9, keys: \"<redacted>\" }"
    );
}

#[test]
fn concurrent_seals_never_share_a_nonce() {
    let c = std::sync::Arc::new(cipher(&LedgerSecret::generate(1), "accounts"));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let c = c.clone();
            std::thread::spawn(move || {
                (0..500)
                    .map(|_| c.seal(b"k", b"v")[RECORD_HEADER_LEN - 8..RECORD_HEADER_LEN].to_vec())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut nonces: Vec<Vec<u8>> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    nonces.sort();
    nonces.dedup();
    assert_eq!(nonces.len(), 2000);
}
