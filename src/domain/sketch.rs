//! Distinct signed-in viewers without a list of them (PRIVACY.md "No identity"): a
//! HyperLogLog++ sketch per creator, UTC day and demographic bucket (`viewer_sketches`),
//! from Cloudflare's maintained `cardinality-estimator` crate.
//!
//! What goes into a sketch is a keyed hash of the account (HMAC-SHA256 under a key derived
//! from `TALLY_ID_KEY`), never the account: without the key, a sketch cannot even be tested
//! against a given account. Precision 12 (4,096 registers): exact up to 128 distinct
//! viewers (the crate keeps that many hashes as they are), so at the thresholds that decide
//! what is shown (10 and 100); about 1.6 % standard error above.
//! A sketch is stored as `postcard` bytes of the crate's own serde form; merging two
//! sketches is their union, so merging the same one twice changes nothing.
//!
//! The write side goes through a [`SketchBuffer`] in memory: a view's transaction cannot
//! write its viewer into a table next to the view (no table may tie a view, or a creator's
//! day, to an account hash row by row), so each instance collects the hashes per sketch and
//! the fold job merges them into the stored sketches every interval
//! ([`crate::domain::fold::flush_sketches`]).
use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::Mutex,
};

use cardinality_estimator::CardinalityEstimator;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

use crate::{
    error::{AppError, AppResult},
    ids::IdKey,
};

/// A sketch of distinct viewers. (`CardinalityEstimator`'s item type does not matter: only
/// hashes are inserted.)
pub type Sketch = CardinalityEstimator<u64, wyhash::WyHash, 12, 6>;

/// The viewer-sketch dimensions (`viewer_sketches.dimension`): every signed-in view adds
/// its viewer to one bucket of each.
pub const AGE: &str = "age";
pub const REGION: &str = "region";
pub const LANGUAGE: &str = "language";
pub const DEVICE: &str = "device";
pub const DIMENSIONS: [&str; 4] = [AGE, REGION, LANGUAGE, DEVICE];

/// The key of the accounts' hashes.
#[derive(Clone)]
pub struct SketchKey([u8; 32]);

impl std::fmt::Debug for SketchKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SketchKey(…)")
    }
}

impl SketchKey {
    /// The sketch key derived from the service's ID key.
    pub fn from_id_key(key: &IdKey) -> Self {
        SketchKey(key.derive("viewer-sketch"))
    }

    /// The hash an account enters sketches as.
    pub fn hash(&self, account: Uuid) -> u64 {
        // HMAC accepts a key of any length: `new_from_slice` cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(account.as_bytes());
        let out = mac.finalize().into_bytes();
        let mut first = [0u8; 8];
        first.copy_from_slice(&out[..8]);
        u64::from_le_bytes(first)
    }
}

/// One stored sketch: a creator's signed-in viewers on a UTC day (days since 1970) in one
/// bucket of one dimension.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cell {
    pub creator: Uuid,
    pub day: i32,
    pub dimension: &'static str,
    pub key: String,
}

/// The viewers an instance has seen since its last flush, per sketch: account hashes only
/// (sets of them, so a viewer who watches 500 times is kept once). Shared by every request
/// of the instance; the fold job takes it whole and merges it into `viewer_sketches`.
#[derive(Debug)]
pub struct SketchBuffer {
    key: SketchKey,
    pending: Mutex<HashMap<Cell, HashSet<u64>>>,
}

impl SketchBuffer {
    /// An empty buffer hashing accounts under `key`.
    pub fn new(key: SketchKey) -> Self {
        SketchBuffer {
            key,
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// Adds `account`, a viewer of `creator`'s video on `day`, to the sketch of each of
    /// its buckets (`(dimension, key)`, one per dimension).
    pub fn add(
        &self,
        creator: Uuid,
        day: i32,
        account: Uuid,
        buckets: [(&'static str, String); 4],
    ) {
        let hash = self.key.hash(account);
        let mut pending = self.lock();
        for (dimension, key) in buckets {
            pending
                .entry(Cell {
                    creator,
                    day,
                    dimension,
                    key,
                })
                .or_default()
                .insert(hash);
        }
    }

    /// Takes everything buffered, in key order (the order a flush locks rows in).
    pub fn take(&self) -> BTreeMap<Cell, Vec<u64>> {
        let pending = std::mem::take(&mut *self.lock());
        pending
            .into_iter()
            .map(|(cell, hashes)| (cell, hashes.into_iter().collect()))
            .collect()
    }

    /// Puts back what a failed flush took (its sketches are unions: flushing a viewer
    /// twice changes nothing, so a partly stored flush may be retried whole).
    pub fn put_back(&self, cells: BTreeMap<Cell, Vec<u64>>) {
        let mut pending = self.lock();
        for (cell, hashes) in cells {
            pending.entry(cell).or_default().extend(hashes);
        }
    }

    /// How many sketches have viewers waiting to be flushed.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no viewer waits to be flushed.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Cell, HashSet<u64>>> {
        // A panic while holding the lock leaves a map that is still a valid set of hashes.
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The sketch of `hashes`.
pub fn of_hashes(hashes: &[u64]) -> Sketch {
    let mut sketch = Sketch::new();
    for h in hashes {
        sketch.insert_hash(*h);
    }
    sketch
}

/// A sketch as stored.
pub fn encode(sketch: &Sketch) -> AppResult<Vec<u8>> {
    postcard::to_stdvec(sketch).map_err(AppError::internal)
}

/// A stored sketch.
pub fn decode(bytes: &[u8]) -> AppResult<Sketch> {
    postcard::from_bytes(bytes).map_err(AppError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sketches_count_distinct_accounts_and_survive_storage() {
        let key = SketchKey::from_id_key(&IdKey::random());
        let accounts: Vec<Uuid> = (0..120).map(|_| Uuid::new_v4()).collect();
        let mut a = Sketch::new();
        for _ in 0..5 {
            for id in &accounts[..100] {
                a.insert_hash(key.hash(*id));
            }
        }
        assert_eq!(
            a.estimate(),
            100,
            "small sets are exact; repeats count once"
        );
        let mut b = decode(&encode(&a).expect("encode")).expect("decode");
        assert_eq!(b.estimate(), 100);
        let mut c = Sketch::new();
        for id in &accounts[90..] {
            c.insert_hash(key.hash(*id));
        }
        b.merge(&c);
        b.merge(&c);
        assert_eq!(b.estimate(), 120, "a union; merging twice changes nothing");
        let other = SketchKey::from_id_key(&IdKey::random());
        assert_ne!(key.hash(accounts[0]), other.hash(accounts[0]));
    }

    #[test]
    fn large_sketches_stay_within_a_few_percent() {
        let key = SketchKey::from_id_key(&IdKey::random());
        let mut s = Sketch::new();
        for _ in 0..50_000 {
            s.insert_hash(key.hash(Uuid::new_v4()));
        }
        let e = s.estimate() as f64;
        assert!((e - 50_000.0).abs() / 50_000.0 < 0.06, "{e}");
        let bytes = encode(&s).expect("encode");
        assert!(bytes.len() < 8_000, "{} bytes", bytes.len());
        assert_eq!(decode(&bytes).expect("decode").estimate(), s.estimate());
    }
}
