//! Sparse, time-bucketed sliding windows: the port of
//! `scorer.features.windows.BucketWindows`.
//!
//! A ring keeps, per non-empty bucket in key order, the count, sum and sum of
//! squares of a value, and for each window length the index of its oldest
//! bucket (`lo`) and its running totals. Every addition and subtraction is
//! done in the order of the Python class, so the totals carry the same
//! rounding; binary searches use CPython's `bisect` algorithm so that even
//! foreign (unsorted) data gives the same answers.

use crate::codec::{Put, Reader};
use crate::error::{Error, Result};
use crate::pymath;

/// Head key of a ring that has seen nothing yet.
pub const NO_HEAD: i64 = -(1 << 62);
/// Memory of one stored bucket: an int64 key and three float64 columns.
pub const BYTES_PER_BUCKET: usize = 32;

/// One stored bucket.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    /// Bucket key: `int(time // width)`.
    pub key: i64,
    /// Sum of the weights.
    pub count: f64,
    /// Sum of the values.
    pub sum: f64,
    /// Sum of the squared values.
    pub square: f64,
}

impl Bucket {
    fn empty(key: i64) -> Self {
        // Python appends 0.0 and then adds: a first value of -0.0 is stored as 0.0.
        Bucket {
            key,
            count: 0.0,
            sum: 0.0,
            square: 0.0,
        }
    }

    #[inline]
    fn add(&mut self, weight: f64, value: f64) {
        self.count += weight;
        self.sum += value;
        self.square += value * value;
    }
}

/// The shape of a ring: bucket width in seconds and window lengths in buckets
/// (ascending, so the last is the longest).
#[derive(Debug)]
pub struct Spec<const W: usize> {
    /// Bucket width, seconds.
    pub width: f64,
    /// Window lengths, buckets.
    pub lengths: [i64; W],
}

/// Minute buckets: the 1 h window.
pub static MINUTE: Spec<1> = Spec {
    width: 60.0,
    lengths: [60],
};
/// Hour buckets: the 24 h, 7 d and 30 d windows.
pub static HOUR: Spec<3> = Spec {
    width: 3600.0,
    lengths: [24, 24 * 7, 24 * 30],
};

/// Count, sum and sum of squares over `W` sliding windows of time buckets.
#[derive(Clone, Debug)]
pub struct Ring<const W: usize> {
    spec: &'static Spec<W>,
    /// Key of the newest bucket the ring was advanced to.
    pub head: i64,
    /// Non-empty buckets, ascending keys.
    pub buckets: Vec<Bucket>,
    /// Per window: index of its oldest bucket.
    lo: [usize; W],
    /// Per window: count, sum, sum of squares.
    totals: [[f64; 3]; W],
}

/// CPython's `bisect_left` over the keys (the same probes, so the same answer on any data).
fn bisect_left(buckets: &[Bucket], x: i64) -> usize {
    let (mut lo, mut hi) = (0, buckets.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if buckets[mid].key < x {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// CPython's `bisect_right` over the keys.
fn bisect_right(buckets: &[Bucket], x: i64) -> usize {
    let (mut lo, mut hi) = (0, buckets.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if x < buckets[mid].key {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

impl<const W: usize> Ring<W> {
    /// An empty ring.
    pub fn new(spec: &'static Spec<W>) -> Self {
        Ring {
            spec,
            head: NO_HEAD,
            buckets: Vec::new(),
            lo: [0; W],
            totals: [[0.0; 3]; W],
        }
    }

    /// The bucket key of an instant, to add at (`int(t // width)`, with its errors).
    pub fn key(&self, epoch_s: f64) -> Result<i64> {
        pymath::bucket_key(pymath::floordiv(epoch_s, self.spec.width))
    }

    /// Number of stored buckets.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no bucket is stored.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// The lower edge of window `i` at `key` (Python's ints never overflow; saturate instead).
    #[inline]
    fn edge(&self, key: i64, i: usize) -> i64 {
        key.saturating_sub(self.spec.lengths[i])
    }

    /// Every window's `(count, sum, sum of squares)` as seen at bucket `at_key`
    /// (`windows()`; `window(i)` is its `i`-th entry). Pure: for `at_key` at
    /// or behind the head the totals as of the head.
    pub fn windows(&self, at_key: i64) -> [[f64; 3]; W] {
        let mut out = self.totals;
        if at_key <= self.head {
            return out;
        }
        for (i, window) in out.iter_mut().enumerate() {
            // The same subtractions, in the same order, as advance() would make.
            self.subtract_leaving(i, at_key, window);
        }
        out
    }

    /// Subtracts from `window` (window `i`'s totals), oldest first, the buckets that
    /// have left it at `key`; returns the index of its first bucket still inside.
    #[inline]
    fn subtract_leaving(&self, i: usize, key: i64, window: &mut [f64; 3]) -> usize {
        let edge = self.edge(key, i);
        let mut j = self.lo[i];
        while j < self.buckets.len() && self.buckets[j].key <= edge {
            let b = &self.buckets[j];
            window[0] -= b.count;
            window[1] -= b.sum;
            window[2] -= b.square;
            j += 1;
        }
        j
    }

    /// Moves the head to `to_key`, dropping buckets that left every window.
    pub fn advance(&mut self, to_key: i64) {
        if to_key <= self.head {
            return;
        }
        self.head = to_key;
        let n = self.buckets.len();
        for i in 0..W {
            let mut totals = self.totals[i];
            self.lo[i] = self.subtract_leaving(i, to_key, &mut totals);
            self.totals[i] = totals;
        }
        // The longest window has the oldest bucket.
        let drop = self.lo[W - 1].min(n);
        if drop > 0 {
            self.buckets.drain(..drop);
            for j in &mut self.lo {
                // Only an inconsistent restored `lo` could go below zero.
                *j = j.saturating_sub(drop);
            }
        }
    }

    /// Adds one observation; `false` when it is older than the longest window.
    pub fn add(&mut self, epoch_s: f64, value: f64, weight: f64) -> Result<bool> {
        let k = self.key(epoch_s)?;
        Ok(self.add_at(k, value, weight))
    }

    /// [`Ring::add`] with the bucket key already computed (`int(t // width)`):
    /// the store computes it once per event for all of the event's entities.
    pub fn add_at(&mut self, k: i64, value: f64, weight: f64) -> bool {
        let last = self.buckets.last().map(|b| b.key);
        if k > self.head || (k == self.head && last == Some(k)) {
            // In order (the usual case): the newest bucket, inside every window.
            if k > self.head {
                self.advance(k);
            }
            if self.buckets.last().map(|b| b.key) != Some(k) {
                self.buckets.push(Bucket::empty(k));
            }
            if let Some(b) = self.buckets.last_mut() {
                b.add(weight, value);
            }
            for totals in &mut self.totals {
                totals[0] += weight;
                totals[1] += value;
                totals[2] += value * value;
            }
            return true;
        }
        if k <= self.edge(self.head, W - 1) {
            return false;
        }
        let n = self.buckets.len();
        let (pos, inserted) = match last {
            Some(key) if key == k => (n - 1, false),
            None => (n, true),
            Some(key) if key < k => (n, true),
            Some(_) => {
                // A late observation: find (or make) its bucket.
                let pos = bisect_left(&self.buckets, k);
                (pos, self.buckets[pos].key != k)
            }
        };
        if inserted {
            self.buckets.insert(pos, Bucket::empty(k));
        }
        self.buckets[pos].add(weight, value);
        for i in 0..W {
            if k > self.edge(self.head, i) {
                let totals = &mut self.totals[i];
                totals[0] += weight;
                totals[1] += value;
                totals[2] += value * value;
            } else if inserted {
                // A new bucket before this window's oldest one.
                self.lo[i] += 1;
            }
        }
        true
    }

    // -- encodings -------------------------------------------------------

    fn put_totals(&self, out: &mut Vec<u8>) {
        for totals in &self.totals {
            for &v in totals {
                out.put_f64(v);
            }
        }
    }

    /// The four columns of `buckets`: keys, counts, sums, squares.
    fn put_columns(buckets: &[Bucket], out: &mut Vec<u8>) {
        out.reserve(BYTES_PER_BUCKET * buckets.len());
        for b in buckets {
            out.put_i64(b.key);
        }
        for b in buckets {
            out.put_f64(b.count);
        }
        for b in buckets {
            out.put_f64(b.sum);
        }
        for b in buckets {
            out.put_f64(b.square);
        }
    }

    /// `to_bytes`: head, bucket count, `lo`, totals, then the columns.
    pub fn write_bytes(&self, out: &mut Vec<u8>) {
        out.put_i64(self.head);
        out.put_u32(self.buckets.len() as u32);
        for &j in &self.lo {
            out.put_i64(j as i64);
        }
        self.put_totals(out);
        Self::put_columns(&self.buckets, out);
    }

    /// `recent_bytes`: head, count, totals and the buckets at or after `cut`.
    pub fn write_recent(&self, cut: i64, out: &mut Vec<u8>) {
        let start = bisect_left(&self.buckets, cut);
        out.put_i64(self.head);
        out.put_u32((self.buckets.len() - start) as u32);
        self.put_totals(out);
        Self::put_columns(&self.buckets[start..], out);
    }

    /// `history_bytes`: the buckets before `cut`, their count first.
    pub fn write_history(&self, cut: i64, out: &mut Vec<u8>) {
        let end = bisect_left(&self.buckets, cut);
        out.put_u32(end as u32);
        Self::put_columns(&self.buckets[..end], out);
    }

    /// `recent_count`: stored buckets at or after `cut`.
    pub fn recent_count(&self, cut: i64) -> usize {
        self.buckets.len() - bisect_left(&self.buckets, cut)
    }

    /// `n` buckets' columns at the reader.
    fn read_columns(r: &mut Reader<'_>, n: usize) -> Result<Vec<Bucket>> {
        r.ensure(BYTES_PER_BUCKET as u64 * n as u64)?;
        let mut buckets: Vec<Bucket> = (0..n).map(|_| Bucket::empty(0)).collect();
        for b in &mut buckets {
            b.key = r.i64()?;
        }
        for b in &mut buckets {
            b.count = r.f64()?;
        }
        for b in &mut buckets {
            b.sum = r.f64()?;
        }
        for b in &mut buckets {
            b.square = r.f64()?;
        }
        Ok(buckets)
    }

    /// `_read_head`: an empty ring with the head read, and the bucket count.
    fn read_head(spec: &'static Spec<W>, r: &mut Reader<'_>) -> Result<(Self, usize)> {
        r.ensure(12)?;
        let mut ring = Ring::new(spec);
        ring.head = r.i64()?;
        let n = r.u32()? as usize;
        Ok((ring, n))
    }

    fn read_totals(&mut self, r: &mut Reader<'_>) -> Result<()> {
        r.ensure(24 * W as u64)?;
        for totals in &mut self.totals {
            for v in totals.iter_mut() {
                *v = r.f64()?;
            }
        }
        Ok(())
    }

    /// `from_bytes`: the ring written by [`Ring::write_bytes`] at the reader.
    pub fn read_bytes(spec: &'static Spec<W>, r: &mut Reader<'_>) -> Result<Self> {
        let (mut ring, n) = Self::read_head(spec, r)?;
        r.ensure(8 * W as u64)?;
        let mut lo = [0_i64; W];
        for j in &mut lo {
            *j = r.i64()?;
        }
        ring.read_totals(r)?;
        ring.buckets = Self::read_columns(r, n)?;
        if lo.iter().any(|&j| j < 0 || j as u64 > n as u64) {
            return Err(Error::Value(
                "feature-state snapshot has a window outside its buckets".into(),
            ));
        }
        for (dst, &j) in ring.lo.iter_mut().zip(&lo) {
            *dst = j as usize;
        }
        Ok(ring)
    }

    /// `from_split`: the recent part at the reader joined with the history
    /// columns (`history`, the record after its header), taking only history
    /// buckets before `cut` and still inside the longest window; `lo` follows
    /// from the keys and the head.
    pub fn read_split(
        spec: &'static Spec<W>,
        r: &mut Reader<'_>,
        history: Option<&[u8]>,
        cut: i64,
    ) -> Result<Self> {
        let (mut ring, n) = Self::read_head(spec, r)?;
        ring.read_totals(r)?;
        let recent = Self::read_columns(r, n)?;
        ring.buckets = match history {
            None => recent,
            Some(data) => {
                let old = history_columns(data)?;
                let first = bisect_right(&old, ring.edge(ring.head, W - 1));
                let last = bisect_left(&old, cut);
                if n > 0 && last > first && old[last - 1].key >= recent[0].key {
                    return Err(Error::Value(
                        "feature-state history overlaps its recent buckets".into(),
                    ));
                }
                let mut joined = Vec::with_capacity(last.saturating_sub(first) + n);
                if last > first {
                    joined.extend_from_slice(&old[first..last]);
                }
                joined.extend_from_slice(&recent);
                joined
            }
        };
        for i in 0..W {
            ring.lo[i] = bisect_right(&ring.buckets, ring.edge(ring.head, i));
        }
        Ok(ring)
    }
}

/// `_history_columns`: the buckets of a history record (all of `data`).
fn history_columns(data: &[u8]) -> Result<Vec<Bucket>> {
    if data.len() < 4 {
        return Err(Error::Value("truncated feature-state history".into()));
    }
    let mut r = Reader::new(data, 0);
    let n = r.u32()? as usize;
    let buckets = Ring::<1>::read_columns(&mut r, n)?;
    if !r.at_end() {
        return Err(Error::Value(
            "feature-state history has trailing bytes".into(),
        ));
    }
    Ok(buckets)
}
