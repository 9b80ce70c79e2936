//! The state of one entity and its binary encodings: the port of
//! `scorer.features.state.FeatureState` (versions 2 and 3; version-1 JSON is
//! converted by the Python wrapper before it reaches this module).

use std::borrow::Cow;

use crate::codec::{Put, Reader};
use crate::error::{Error, Result};
use crate::ring::{Ring, BYTES_PER_BUCKET, HOUR, MINUTE};

/// First byte of the whole-state snapshot.
pub const BINARY_VERSION: u8 = 2;
/// First byte of the changelog's head and history records.
pub const SPLIT_VERSION: u8 = 3;
/// A head record's cut when the entity has no history record.
pub const NO_HISTORY: i64 = i64::MIN;

const HAS_DISTINCT: u8 = 1;
const HAS_BILLING: u8 = 2;
const HAS_LABELS: u8 = 4;

/// What a customer's distinct-value sets count over 24 h, in their dict order.
pub const DISTINCT_KINDS: [&str; 3] = ["ip", "ua", "merchant"];

/// A distinct-value set: `{crc32 of the value: last seen}` as a Python dict,
/// in insertion order (the encoded order; an update keeps its place).
pub type Seen = Vec<(i64, f64)>;

/// The distinct kinds of a customer, in dict order. Kind names are the three
/// static ones unless a restored record named others.
pub type Distinct = Vec<(Cow<'static, str>, Seen)>;

/// Everything remembered about one entity (`FeatureState`).
#[derive(Clone, Debug)]
pub struct State {
    /// Event time of the newest transaction (`-inf` before the first).
    pub last_time: f64,
    /// Newest event or label time: what idle-expiry looks at.
    pub last_activity: f64,
    /// Amounts in minute buckets (1 h).
    pub minute: Ring<1>,
    /// Amounts in hour buckets (24 h, 7 d, 30 d).
    pub hour: Ring<3>,
    /// Customers only: the distinct-value sets.
    pub distinct: Option<Distinct>,
    /// Customers only: the last billing coordinates.
    pub billing: Option<(f64, f64)>,
    /// Merchants only: arrived labels (count = labels, sum = frauds).
    pub labels: Option<Box<Ring<3>>>,
    /// Consecutive fraud labels among the latest arrived.
    pub fraud_streak: f64,
    /// Arrival time of the newest fraud label.
    pub last_fraud_label: f64,
    /// Hour key below which the hour buckets are in the history record.
    pub history_cut: Option<i64>,
    /// A bucket below `history_cut` changed since the history was written.
    pub history_stale: bool,
    /// Known to be in the store's dirty set (a cache that saves a set lookup per
    /// event; `false` only means "look it up").
    pub in_dirty: bool,
}

impl Default for State {
    fn default() -> Self {
        State {
            last_time: f64::NEG_INFINITY,
            last_activity: f64::NEG_INFINITY,
            minute: Ring::new(&MINUTE),
            hour: Ring::new(&HOUR),
            distinct: None,
            billing: None,
            labels: None,
            fraud_streak: 0.0,
            last_fraud_label: f64::NEG_INFINITY,
            history_cut: None,
            history_stale: false,
            in_dirty: false,
        }
    }
}

/// Sets `seen[hash] = last` as a dict assignment does: in place when present.
fn dict_set(seen: &mut Seen, hash: i64, last: f64) {
    match seen.iter_mut().find(|(h, _)| *h == hash) {
        Some(entry) => entry.1 = last,
        None => seen.push((hash, last)),
    }
}

/// A dict built from `(hash, last)` pairs: later duplicates overwrite in place.
fn dict_from_pairs(hashes: Vec<i64>, lasts: Vec<f64>) -> Seen {
    let mut seen = Seen::with_capacity(hashes.len());
    if hashes.len() <= 64 {
        for (h, s) in hashes.into_iter().zip(lasts) {
            dict_set(&mut seen, h, s);
        }
    } else {
        // Large (foreign) sets: an index instead of a linear search per entry.
        let mut index: hashbrown::HashMap<i64, usize> = hashbrown::HashMap::new();
        for (h, s) in hashes.into_iter().zip(lasts) {
            match index.get(&h) {
                Some(&i) => seen[i].1 = s,
                None => {
                    index.insert(h, seen.len());
                    seen.push((h, s));
                }
            }
        }
    }
    seen
}

impl State {
    /// `approx_bytes`: payload bytes held (buckets and distinct entries).
    pub fn approx_bytes(&self) -> usize {
        let mut size = BYTES_PER_BUCKET * (self.minute.len() + self.hour.len());
        if let Some(labels) = &self.labels {
            size += BYTES_PER_BUCKET * labels.len();
        }
        if let Some(distinct) = &self.distinct {
            size += 16 * distinct.iter().map(|(_, seen)| seen.len()).sum::<usize>();
        }
        size
    }

    /// The distinct set of `kind`, as `state.distinct[kind]` finds it.
    pub fn seen_mut(distinct: &mut Distinct, slot: usize) -> Result<&mut Seen> {
        let kind = DISTINCT_KINDS[slot];
        // Fresh customers hold the kinds in DISTINCT_KINDS order: try that slot first.
        let index = match distinct.get(slot) {
            Some((name, _)) if name == kind => Some(slot),
            _ => distinct.iter().position(|(name, _)| name == kind),
        };
        match index {
            Some(i) => Ok(&mut distinct[i].1),
            None => Err(Error::Key(kind.to_owned())),
        }
    }

    fn flags(&self) -> u8 {
        (if self.distinct.is_some() {
            HAS_DISTINCT
        } else {
            0
        }) | (if self.billing.is_some() {
            HAS_BILLING
        } else {
            0
        }) | (if self.labels.is_some() { HAS_LABELS } else { 0 })
    }

    /// `encode`: the whole-state snapshot (version 2).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u8(BINARY_VERSION);
        out.put_u8(self.flags());
        out.put_f64(self.last_time);
        out.put_f64(self.last_activity);
        self.minute.write_bytes(out);
        self.hour.write_bytes(out);
        self.put_tail(out);
    }

    /// `encode_head`: the changelog's head record (version 3): the hour buckets
    /// at or after the history cut only.
    pub fn encode_head(&self, out: &mut Vec<u8>) {
        let cut = self.history_cut.unwrap_or(NO_HISTORY);
        out.put_u8(SPLIT_VERSION);
        out.put_u8(self.flags());
        out.put_f64(self.last_time);
        out.put_f64(self.last_activity);
        out.put_i64(cut);
        self.minute.write_bytes(out);
        self.hour.write_recent(cut, out);
        self.put_tail(out);
    }

    /// `encode_history`: the hour buckets before `cut`; `cut` becomes the state's.
    pub fn encode_history(&mut self, cut: i64, out: &mut Vec<u8>) {
        self.history_cut = Some(cut);
        self.history_stale = false;
        out.put_u8(SPLIT_VERSION);
        out.put_i64(cut);
        self.hour.write_history(cut, out);
    }

    /// `_append_tail`: distinct sets, billing, labels, as the flags say.
    fn put_tail(&self, out: &mut Vec<u8>) {
        if let Some(distinct) = &self.distinct {
            // At most 255 kinds of at most 255 bytes: a restored record had
            // byte-sized counts, a fresh state has three short names.
            out.put_u8(distinct.len() as u8);
            for (kind, seen) in distinct {
                out.put_u8(kind.len() as u8);
                out.extend_from_slice(kind.as_bytes());
                out.put_u32(seen.len() as u32);
                for &(hash, _) in seen {
                    out.put_i64(hash);
                }
                for &(_, last) in seen {
                    out.put_f64(last);
                }
            }
        }
        if let Some((lat, lon)) = self.billing {
            out.put_f64(lat);
            out.put_f64(lon);
        }
        if let Some(labels) = &self.labels {
            labels.write_bytes(out);
            out.put_f64(self.fraud_streak);
            out.put_f64(self.last_fraud_label);
        }
    }

    /// `decode`: a whole-state snapshot (version 2). A version-1 JSON record
    /// is refused with `ValueError("json snapshot")` (the wrapper converts those).
    pub fn decode(data: &[u8]) -> Result<State> {
        match data.first() {
            Some(b'{') => return Err(Error::Value("json snapshot".into())),
            Some(&BINARY_VERSION) => {}
            _ => {
                return Err(Error::Value(
                    "not a feature-state snapshot of a known version".into(),
                ))
            }
        }
        let mut r = Reader::new(data, 0);
        r.ensure(18)?;
        r.u8()?;
        let flags = r.u8()?;
        let mut state = State {
            last_time: r.f64()?,
            last_activity: r.f64()?,
            ..State::default()
        };
        state.minute = Ring::read_bytes(&MINUTE, &mut r)?;
        state.hour = Ring::read_bytes(&HOUR, &mut r)?;
        state.read_tail(&mut r, flags)?;
        Ok(state)
    }

    /// `decode_split`: a head record joined with its history record, or a
    /// whole-state snapshot (which needs no history).
    pub fn decode_split(head: &[u8], history: Option<&[u8]>) -> Result<State> {
        if head.first() != Some(&SPLIT_VERSION) {
            return State::decode(head);
        }
        let mut r = Reader::new(head, 0);
        r.ensure(26)?;
        r.u8()?;
        let flags = r.u8()?;
        let last_time = r.f64()?;
        let last_activity = r.f64()?;
        let cut = r.i64()?;
        let mut older = None;
        if cut != NO_HISTORY {
            let hist = history.ok_or_else(|| {
                Error::Value("feature-state head refers to a history record that is missing".into())
            })?;
            if hist.first() != Some(&SPLIT_VERSION) || hist.len() < 9 {
                return Err(Error::Value(
                    "not a feature-state history record of a known version".into(),
                ));
            }
            let written_at = Reader::new(hist, 1).i64()?;
            // A history newer than its head (a crash between the two writes
            // without transactions) is usable; an older one cannot be.
            if written_at < cut {
                return Err(Error::Value(format!(
                    "feature-state history was written at cut {written_at}, \
                     before its head's cut {cut}"
                )));
            }
            older = Some(&hist[9..]);
        }
        let mut state = State {
            last_time,
            last_activity,
            history_cut: (cut != NO_HISTORY).then_some(cut),
            ..State::default()
        };
        state.minute = Ring::read_bytes(&MINUTE, &mut r)?;
        state.hour = Ring::read_split(&HOUR, &mut r, older, cut)?;
        state.read_tail(&mut r, flags)?;
        Ok(state)
    }

    /// `_read_tail`: what [`State::put_tail`] wrote; the record must end there.
    fn read_tail(&mut self, r: &mut Reader<'_>, flags: u8) -> Result<()> {
        if flags & HAS_DISTINCT != 0 {
            let kinds = r.u8()?;
            let mut distinct = Distinct::new();
            for _ in 0..kinds {
                let size = r.u8()? as usize;
                // A Python slice: short at the end of the data, the offset moves anyway.
                let name = std::str::from_utf8(r.slice_past(size)).map_err(|err| {
                    Error::Value(format!("'utf-8' codec can't decode the kind name: {err}"))
                })?;
                let count = r.u32()? as usize;
                r.ensure(16 * count as u64)?;
                let hashes = (0..count).map(|_| r.i64()).collect::<Result<Vec<_>>>()?;
                let lasts = (0..count).map(|_| r.f64()).collect::<Result<Vec<_>>>()?;
                let seen = dict_from_pairs(hashes, lasts);
                let kind = match DISTINCT_KINDS.iter().find(|k| **k == name) {
                    Some(k) => Cow::Borrowed(*k),
                    None => Cow::Owned(name.to_owned()),
                };
                // `distinct[kind] = ...`: a repeated kind keeps its first place.
                match distinct.iter_mut().find(|(k, _)| *k == kind) {
                    Some(entry) => entry.1 = seen,
                    None => distinct.push((kind, seen)),
                }
            }
            self.distinct = Some(distinct);
        }
        if flags & HAS_BILLING != 0 {
            r.ensure(16)?;
            self.billing = Some((r.f64()?, r.f64()?));
        }
        if flags & HAS_LABELS != 0 {
            self.labels = Some(Box::new(Ring::read_bytes(&HOUR, r)?));
            r.ensure(16)?;
            self.fraud_streak = r.f64()?;
            self.last_fraud_label = r.f64()?;
        }
        if !r.at_end() {
            return Err(Error::Value(
                "feature-state snapshot has trailing bytes".into(),
            ));
        }
        Ok(())
    }
}
