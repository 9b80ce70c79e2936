//! The feature store: the port of `scorer.features.store.FeatureStore`, its
//! feature functions and `served_row`, in plain Rust (no Python types).

use hashbrown::{HashMap, HashSet};

use crate::error::{Error, Result};
use crate::pymath::{self, py_max, py_min};
use crate::ring::{Ring, HOUR, MINUTE};
use crate::state::{Distinct, Seen, State, DISTINCT_KINDS, NO_HISTORY};

const DAY_S: f64 = 86_400.0;
const EARTH_RADIUS_KM: f64 = 6371.0;
/// A billing location further than this from the previous one counts as a change.
const BILLING_CHANGE_KM: f64 = 1.0;
/// Floor of the standard deviation in z-scores.
const MIN_STD: f64 = 0.01;
/// Changelog key prefix of an entity's history record.
pub const HISTORY_PREFIX: &str = "h/";
/// Hour buckets a head record may hold past its cut before the history is written anew.
const RECENT_HOURS: usize = 24;

/// Features per entity (customer, card, merchant, IP).
const ENTITY_WIDTH: usize = 15;
/// Transaction features at the start of the row.
const TX_WIDTH: usize = 4;
/// Where the customer's distinct counts and billing features start.
const EXTRA_START: usize = TX_WIDTH + 4 * ENTITY_WIDTH;
/// Where the customer-history features start.
const HISTORY_START: usize = EXTRA_START + 5;
/// `RISK_START`: merchant risk closes the row.
pub const RISK_START: usize = HISTORY_START + 5;
/// `len(MERCHANT_RISK_NAMES)`.
pub const RISK_WIDTH: usize = 9;
/// `len(FEATURE_NAMES)`.
pub const FEATURE_COUNT: usize = RISK_START + RISK_WIDTH;

/// One feature row.
pub type Row = [f64; FEATURE_COUNT];

/// The fields of a `TxEvent` the features use, borrowed from the Python tuple.
/// Optional strings are `None` when Python would find them falsy (None or "").
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// Epoch seconds.
    pub time: f64,
    /// Customer id.
    pub entity_id: &'a str,
    /// Amount.
    pub amount: f64,
    /// `currency == "usd"`.
    pub home_currency: bool,
    /// IP address, if truthy.
    pub ip_address: Option<&'a str>,
    /// User agent, if truthy.
    pub user_agent: Option<&'a str>,
    /// Card BIN, if truthy.
    pub card_bin: Option<&'a str>,
    /// Merchant id, if truthy.
    pub merchant_id: Option<&'a str>,
    /// Billing latitude (`is not None`).
    pub latitude: Option<f64>,
    /// Billing longitude (`is not None`).
    pub longitude: Option<f64>,
}

/// The entity keys of an event (`FeatureStore._keys`), in reusable buffers so
/// that a batch builds them without allocating per event.
#[derive(Debug, Default)]
pub struct Keys {
    bufs: [String; 4],
    present: [bool; 4],
}

/// Slot of the customer key in [`Keys`].
const CUSTOMER: usize = 0;
/// Slot of the merchant key in [`Keys`].
const MERCHANT: usize = 2;

impl Keys {
    /// Fills the keys of `ev`: `c|id`, `k|bin|id`, `m|merchant`, `i|ip`.
    pub fn fill(&mut self, ev: &Event<'_>) {
        let parts: [(&str, Option<&str>); 4] = [
            ("c|", Some(ev.entity_id)),
            ("k|", ev.card_bin),
            ("m|", ev.merchant_id),
            ("i|", ev.ip_address),
        ];
        for (slot, (prefix, value)) in parts.into_iter().enumerate() {
            let buf = &mut self.bufs[slot];
            buf.clear();
            self.present[slot] = value.is_some();
            if let Some(value) = value {
                buf.push_str(prefix);
                buf.push_str(value);
                if slot == 1 {
                    buf.push('|');
                    buf.push_str(ev.entity_id);
                }
            }
        }
    }

    /// The key in `slot`, if the event has that entity.
    #[inline]
    pub fn get(&self, slot: usize) -> Option<&str> {
        self.present[slot].then(|| self.bufs[slot].as_str())
    }
}

/// `merchant_key`.
pub fn merchant_key(merchant_id: &str) -> String {
    let mut key = String::with_capacity(2 + merchant_id.len());
    key.push_str("m|");
    key.push_str(merchant_id);
    key
}

/// A changelog record: a key and its bytes (a range of the batch's buffer), or a tombstone.
pub type Record = (String, Option<std::ops::Range<usize>>);

/// Per-entity state for the stateful features, with its changelog bookkeeping.
#[derive(Debug)]
pub struct Store {
    /// Lateness tolerated behind the watermark, seconds.
    pub lateness_s: f64,
    /// Idle time after which an entity is forgotten, seconds.
    pub ttl_s: f64,
    /// Most distinct values kept per kind.
    pub distinct_cap: usize,
    /// Newest event time seen (`-inf` before any).
    pub watermark: f64,
    /// Events too late to apply.
    pub late_dropped: u64,
    states: HashMap<String, State>,
    /// Keys changed (or removed) since the last changelog.
    dirty: HashSet<String>,
    /// Expired keys whose history record still needs its tombstone.
    history_dropped: HashSet<String>,
}

impl Store {
    /// `FeatureStore.__init__` (its argument check included).
    pub fn new(lateness_s: f64, ttl_s: f64, distinct_cap: i64) -> Result<Self> {
        // The same comparisons as Python: a NaN passes them.
        if lateness_s < 0.0 || ttl_s <= 0.0 || distinct_cap < 1 {
            return Err(Error::Value(
                "lateness_s >= 0, ttl_s > 0 and distinct_cap >= 1 are required".into(),
            ));
        }
        Ok(Store {
            lateness_s,
            ttl_s,
            distinct_cap: usize::try_from(distinct_cap).unwrap_or(usize::MAX),
            watermark: f64::NEG_INFINITY,
            late_dropped: 0,
            states: HashMap::new(),
            dirty: HashSet::new(),
            history_dropped: HashSet::new(),
        })
    }

    /// Entities held.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// Whether no entity is held.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// Entity keys held, sorted.
    pub fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self.states.keys().map(String::as_str).collect();
        keys.sort_unstable();
        keys
    }

    /// The state of `key`, if held.
    pub fn state(&self, key: &str) -> Option<&State> {
        self.states.get(key)
    }

    /// `self._dirty.add(key)`, skipping the set when the state knows it is there.
    fn mark_dirty(dirty: &mut HashSet<String>, key: &str, state: &mut State) {
        if !state.in_dirty {
            state.in_dirty = true;
            if !dirty.contains(key) {
                dirty.insert(key.to_owned());
            }
        }
    }

    // -- serving ---------------------------------------------------------

    /// `row` (or `served_row` when `labels` is the shared label store): the
    /// feature vector of `ev` from the current state, written into `out`.
    pub fn row_into(
        &self,
        ev: &Event<'_>,
        keys: &Keys,
        labels: &Store,
        out: &mut Row,
    ) -> Result<()> {
        let t = ev.time;
        let weekday = pymath::to_int(pymath::rem(pymath::floordiv(t, DAY_S) + 3.0, 7.0))?;
        out[0] = ev.amount;
        out[1] = pymath::int_float(pymath::floordiv(pymath::rem(t, DAY_S), 3600.0))?;
        out[2] = if weekday >= 5 { 1.0 } else { 0.0 };
        out[3] = if ev.home_currency { 0.0 } else { 1.0 };
        // `int(t // width)` of both rings, once for all entities (t is finite here).
        let at = (
            pymath::to_int_clamped(pymath::floordiv(t, MINUTE.width)),
            pymath::to_int_clamped(pymath::floordiv(t, HOUR.width)),
        );
        let mut customer = None;
        for slot in 0..4 {
            let cells = &mut out[TX_WIDTH + slot * ENTITY_WIDTH..][..ENTITY_WIDTH];
            match keys.get(slot) {
                None => cells.fill(f64::NAN),
                Some(key) => {
                    let state = self.states.get(key);
                    if slot == CUSTOMER {
                        customer = state;
                    }
                    entity_features(state, t, at, ev.amount, cells);
                }
            }
        }
        customer_extra(customer, ev, &mut out[EXTRA_START..HISTORY_START])?;
        let (head, tail) = out.split_at_mut(HISTORY_START);
        customer_history(
            &head[TX_WIDTH..TX_WIDTH + ENTITY_WIDTH],
            ev.amount,
            &mut tail[..5],
        );
        let risk = &mut out[RISK_START..];
        match keys.get(MERCHANT) {
            None => risk.fill(f64::NAN),
            Some(key) => merchant_risk(labels.states.get(key), t, at.1, risk),
        }
        Ok(())
    }

    /// `update`: adds `ev` to its entities' state; `false` if too late to apply.
    pub fn update(&mut self, ev: &Event<'_>, keys: &Keys) -> Result<bool> {
        let t = ev.time;
        if t < self.watermark - self.lateness_s {
            self.late_dropped += 1;
            return Ok(false);
        }
        if t > self.watermark {
            self.watermark = t;
        }
        let cap = self.distinct_cap;
        // The bucket keys, once for all entities; an error is raised where Python
        // raises it: at the first entity's minute ring, after its state exists.
        let minute_key = pymath::bucket_key(pymath::floordiv(t, MINUTE.width));
        let hour_key = pymath::bucket_key(pymath::floordiv(t, HOUR.width));
        for slot in 0..4 {
            let Some(key) = keys.get(slot) else { continue };
            let state = self.states.entry_ref(key).or_default();
            state.minute.add_at(minute_key.clone()?, ev.amount, 1.0);
            let hour_key = hour_key.clone()?;
            let added = state.hour.add_at(hour_key, ev.amount, 1.0);
            let in_order = t >= state.last_time;
            if in_order {
                state.last_time = t;
            } else if added && state.history_cut.is_some_and(|cut| hour_key < cut) {
                // A late event changed an hour already in the history record.
                state.history_stale = true;
            }
            if t > state.last_activity {
                state.last_activity = t;
            }
            if slot == CUSTOMER {
                update_customer(state, ev, in_order, cap)?;
            }
            Self::mark_dirty(&mut self.dirty, key, state);
        }
        Ok(true)
    }

    /// `apply_label`: counts an arrived label in its merchant's risk; `false`
    /// without a merchant (`None`: an empty id is a merchant, as in Python).
    pub fn apply_label(
        &mut self,
        time: f64,
        merchant_id: Option<&str>,
        is_fraud: bool,
    ) -> Result<bool> {
        let Some(merchant_id) = merchant_id else {
            return Ok(false);
        };
        let key = merchant_key(merchant_id);
        let state = self.states.entry_ref(key.as_str()).or_default();
        let labels = state
            .labels
            .get_or_insert_with(|| Box::new(Ring::new(&HOUR)));
        labels.add(time, if is_fraud { 1.0 } else { 0.0 }, 1.0)?;
        if is_fraud {
            state.fraud_streak += 1.0;
            state.last_fraud_label = py_max(state.last_fraud_label, time);
        } else {
            state.fraud_streak = 0.0;
        }
        if time > state.last_activity {
            state.last_activity = time;
        }
        Self::mark_dirty(&mut self.dirty, &key, state);
        Ok(true)
    }

    /// `expire`: forgets entities idle for longer than the TTL; returns how many.
    pub fn expire(&mut self, now_s: f64) -> usize {
        let cutoff = now_s - self.ttl_s;
        let mut count = 0;
        for (key, state) in self
            .states
            .extract_if(|_, state| state.last_activity < cutoff)
        {
            if state.history_cut.is_some() {
                self.history_dropped.insert(key.clone());
            }
            self.dirty.insert(key);
            count += 1;
        }
        count
    }

    // -- changelog -------------------------------------------------------

    /// How many keys are dirty.
    pub fn dirty_count(&self) -> usize {
        self.dirty.len()
    }

    /// `dirty_keys()`: the dirty keys (unsorted); the set is cleared.
    fn take_dirty(&mut self) -> Vec<String> {
        let keys: Vec<String> = self.dirty.drain().collect();
        for key in &keys {
            if let Some(state) = self.states.get_mut(key.as_str()) {
                state.in_dirty = false;
            }
        }
        keys
    }

    /// Clears the dirty set (`dirty_keys()` with the result discarded).
    pub fn clear_dirty(&mut self) {
        self.take_dirty();
    }

    /// `changelog_records`: for every dirty key in sorted order its history
    /// record when due, its head record (or tombstone), and the history's
    /// tombstone of an expired entity. The bytes go to `buf`; records hold ranges.
    pub fn changelog_records(&mut self, buf: &mut Vec<u8>) -> Result<Vec<Record>> {
        let mut keys = self.take_dirty();
        // Python's sorted() of str: code-point order, which is UTF-8 byte order.
        keys.sort_unstable();
        let mut records = Vec::with_capacity(keys.len() + 4);
        for key in keys {
            let has_history = match self.states.get_mut(key.as_str()) {
                None => {
                    records.push((key.clone(), None));
                    None
                }
                Some(state) => {
                    let cut = state.history_cut.unwrap_or(NO_HISTORY);
                    if state.history_stale || state.hour.recent_count(cut) > RECENT_HOURS {
                        let newest = state
                            .hour
                            .buckets
                            .last()
                            .map(|b| b.key)
                            .ok_or_else(|| Error::Index("array index out of range".into()))?;
                        let start = buf.len();
                        state.encode_history(newest, buf);
                        records.push((format!("{HISTORY_PREFIX}{key}"), Some(start..buf.len())));
                    }
                    let start = buf.len();
                    state.encode_head(buf);
                    records.push((key.clone(), Some(start..buf.len())));
                    Some(state.history_cut.is_some())
                }
            };
            if self.history_dropped.remove(key.as_str()) && has_history != Some(true) {
                records.push((format!("{HISTORY_PREFIX}{key}"), None));
            }
        }
        Ok(records)
    }

    /// `_put`: holds a restored state (not dirty) and moves the watermark up to it.
    pub fn put(&mut self, key: &str, state: State) {
        if state.last_time > self.watermark {
            self.watermark = state.last_time;
        }
        match self.states.get_mut(key) {
            Some(slot) => *slot = state,
            None => {
                self.states.insert(key.to_owned(), state);
            }
        }
    }

    /// Forgets `key` (a tombstone restored); not dirty.
    pub fn remove(&mut self, key: &str) {
        self.states.remove(key);
    }

    /// `memory_report`: entities, payload and snapshot bytes per entity.
    pub fn memory_report(&self) -> (usize, f64, f64) {
        let n = self.states.len();
        if n == 0 {
            return (0, 0.0, 0.0);
        }
        let mut buf = Vec::new();
        let mut payload = 0_usize;
        let mut encoded = 0_usize;
        for state in self.states.values() {
            payload += state.approx_bytes();
            buf.clear();
            state.encode(&mut buf);
            encoded += buf.len();
        }
        // Both sums are far below 2**53: their quotient rounds as Python's int / int.
        (n, payload as f64 / n as f64, encoded as f64 / n as f64)
    }
}

/// `_entity_features`: the 15 features of one entity at `t`.
fn entity_features(state: Option<&State>, t: f64, at: (i64, i64), amount: f64, out: &mut [f64]) {
    let nan = f64::NAN;
    let Some(state) = state else {
        out.copy_from_slice(&[
            0.0, 0.0, nan, 0.0, 0.0, nan, 0.0, 0.0, nan, 0.0, 0.0, nan, nan, nan, nan,
        ]);
        return;
    };
    let [[c1h, s1h, _]] = state.minute.windows(at.0);
    let [[c24, s24, _], [c7d, s7d, _], [count, total, squares]] = state.hour.windows(at.1);
    let mut since = if state.last_time > f64::NEG_INFINITY {
        t - state.last_time
    } else {
        nan
    };
    if !since.is_nan() {
        since = py_max(0.0, since);
    }
    let (mut ratio, mut z) = (nan, nan);
    if count >= 1.0 {
        let mean = total / count;
        ratio = if mean > 0.0 { amount / mean } else { nan };
        if count >= 2.0 {
            let variance = py_max(0.0, squares / count - mean * mean);
            // sqrt of a non-negative (or 0.0 for NaN, via max above) never fails.
            z = (amount - mean) / py_max(variance.sqrt(), MIN_STD);
        }
    }
    // `x if c else NAN`: a float is falsy only at zero (NaN is truthy).
    let mean_of = |s: f64, c: f64| if c != 0.0 { s / c } else { nan };
    out.copy_from_slice(&[
        c1h,
        s1h,
        mean_of(s1h, c1h),
        c24,
        s24,
        mean_of(s24, c24),
        c7d,
        s7d,
        mean_of(s7d, c7d),
        count,
        total,
        mean_of(total, count),
        since,
        ratio,
        z,
    ]);
}

/// `haversine_km`, operation by operation.
fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> Result<f64> {
    let (p1, p2) = (pymath::radians(lat1), pymath::radians(lat2));
    let (dp, dl) = (p2 - p1, pymath::radians(lon2 - lon1));
    let first = pymath::square_pow(pymath::sin(dp / 2.0)?);
    let cosines = pymath::cos(p1)? * pymath::cos(p2)?;
    let a = first + cosines * pymath::square_pow(pymath::sin(dl / 2.0)?);
    Ok(2.0 * EARTH_RADIUS_KM * pymath::asin(pymath::sqrt(py_min(1.0, a))?)?)
}

/// `_seen_since`: values last seen after `since`, as a float.
fn seen_since(seen: Option<&Seen>, since: f64) -> f64 {
    let Some(seen) = seen.filter(|s| !s.is_empty()) else {
        return 0.0;
    };
    // min() as Python: the first value, replaced by any smaller one.
    let oldest = seen
        .iter()
        .skip(1)
        .fold(seen[0].1, |m, &(_, s)| py_min(m, s));
    if oldest > since {
        return seen.len() as f64;
    }
    seen.iter().filter(|(_, s)| *s > since).count() as f64
}

/// `_customer_extra`: distinct counts over 24 h, billing distance and change.
fn customer_extra(state: Option<&State>, ev: &Event<'_>, out: &mut [f64]) -> Result<()> {
    let nan = f64::NAN;
    let Some(state) = state else {
        out.copy_from_slice(&[0.0, 0.0, 0.0, nan, nan]);
        return Ok(());
    };
    let since = ev.time - DAY_S;
    for (cell, kind) in out.iter_mut().zip(DISTINCT_KINDS) {
        let seen = state
            .distinct
            .as_ref()
            .and_then(|d| d.iter().find(|(name, _)| name == kind))
            .map(|(_, seen)| seen);
        *cell = seen_since(seen, since);
    }
    let (mut km, mut changed) = (nan, nan);
    if let (Some((lat, lon)), Some(lat2), Some(lon2)) = (state.billing, ev.latitude, ev.longitude) {
        km = haversine_km(lat, lon, lat2, lon2)?;
        changed = if km > BILLING_CHANGE_KM { 1.0 } else { 0.0 };
    }
    out[3] = km;
    out[4] = changed;
    Ok(())
}

/// `_ratio`: `a / b` when both are numbers and `b > 0`.
fn ratio(a: f64, b: f64) -> f64 {
    if !b.is_nan() && b > 0.0 && !a.is_nan() {
        a / b
    } else {
        f64::NAN
    }
}

/// `_customer_history`: the amount against the customer's older history.
fn customer_history(cust: &[f64], amount: f64, out: &mut [f64]) {
    let nan = f64::NAN;
    let (cnt_24h, sum_24h, mean_24h) = (cust[3], cust[4], cust[5]);
    let (cnt_7d, sum_7d, mean_7d) = (cust[6], cust[7], cust[8]);
    let (cnt_30d, sum_30d) = (cust[9], cust[10]);
    let (older_cnt, older_sum) = (cnt_30d - cnt_7d, sum_30d - sum_7d);
    let older_mean = if older_cnt > 0.0 {
        older_sum / older_cnt
    } else {
        nan
    };
    let (past_cnt, past_sum) = (cnt_30d - cnt_24h, sum_30d - sum_24h);
    let past_mean = if past_cnt > 0.0 {
        past_sum / past_cnt
    } else {
        nan
    };
    out.copy_from_slice(&[
        ratio(amount, older_mean),
        older_cnt,
        ratio(amount, past_mean),
        ratio(mean_24h, older_mean),
        ratio(mean_7d, older_mean),
    ]);
}

/// `_merchant_risk` of a known merchant from its label state at `t` (hour key `at`).
fn merchant_risk(state: Option<&State>, t: f64, at: i64, out: &mut [f64]) {
    let nan = f64::NAN;
    let Some((state, ring)) = state.and_then(|s| s.labels.as_deref().map(|ring| (s, ring))) else {
        out.copy_from_slice(&[0.0, nan, 0.0, nan, 0.0, nan, 0.0, 0.0, nan]);
        return;
    };
    let windows = ring.windows(at);
    for (cells, [labels, frauds, _]) in out.chunks_exact_mut(2).zip(windows) {
        cells[0] = frauds;
        cells[1] = if labels > 0.0 { frauds / labels } else { nan };
    }
    let since_fraud = if state.last_fraud_label > f64::NEG_INFINITY {
        py_max(0.0, t - state.last_fraud_label)
    } else {
        nan
    };
    out[6] = windows[2][0];
    out[7] = state.fraud_streak;
    out[8] = since_fraud;
}

/// `_update_customer`: distinct values and, in order, the billing location.
fn update_customer(state: &mut State, ev: &Event<'_>, in_order: bool, cap: usize) -> Result<()> {
    let distinct = state.distinct.get_or_insert_with(|| {
        DISTINCT_KINDS
            .iter()
            .map(|k| (std::borrow::Cow::Borrowed(*k), Seen::new()))
            .collect::<Distinct>()
    });
    for (slot, value) in [ev.ip_address, ev.user_agent, ev.merchant_id]
        .into_iter()
        .enumerate()
    {
        if let Some(value) = value {
            let seen = State::seen_mut(distinct, slot)?;
            remember(
                seen,
                i64::from(crc32fast::hash(value.as_bytes())),
                ev.time,
                cap,
            )?;
        }
    }
    if in_order {
        if let (Some(lat), Some(lon)) = (ev.latitude, ev.longitude) {
            state.billing = Some((lat, lon));
        }
    }
    Ok(())
}

/// `_remember`: records `value` seen at `t`, prunes what is a day older than
/// the newest, then enforces the cap (the oldest out, first of equals first).
fn remember(seen: &mut Seen, value: i64, t: f64, cap: usize) -> Result<()> {
    match seen.iter_mut().find(|(h, _)| *h == value) {
        Some(entry) => {
            if t > entry.1 {
                entry.1 = t;
            }
        }
        None => {
            if t > f64::NEG_INFINITY {
                seen.push((value, t));
            }
        }
    }
    let Some(&(_, first)) = seen.first() else {
        return Err(Error::Value("max() iterable argument is empty".into()));
    };
    let newest = seen.iter().skip(1).fold(first, |m, &(_, s)| py_max(m, s));
    // Deleted are the values with `s <= newest - DAY_S`; a NaN on either side keeps it.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    seen.retain(|&(_, s)| !(s <= newest - DAY_S));
    while seen.len() > cap {
        let mut oldest = 0;
        for (i, &(_, s)) in seen.iter().enumerate().skip(1) {
            if s < seen[oldest].1 {
                oldest = i;
            }
        }
        seen.remove(oldest);
    }
    Ok(())
}
