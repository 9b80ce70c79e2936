//! `scorer_native`: the scorer's feature store compiled.
//!
//! [`NativeStore`] is a bit-identical port of `scorer.features.store.FeatureStore`
//! (with `FeatureState` and `BucketWindows`): the same feature rows, the same
//! changelog records and snapshots byte for byte, for the same calls. The core
//! ([`store`], [`state`], [`ring`]) is plain Rust; this module only converts
//! Python values at the edges.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyTuple};

pub mod codec;
pub mod error;
pub mod pymath;
pub mod ring;
pub mod state;
pub mod store;

use state::State;
use store::{Event, Keys, Row, Store, FEATURE_COUNT, HISTORY_PREFIX};

/// Bytes of one served row: `FEATURE_COUNT` float64.
const ROW_BYTES: usize = FEATURE_COUNT * 8;

/// A `str | None` field of an event, `None` when Python finds it falsy.
fn truthy_str<'a>(item: Borrowed<'a, '_, PyAny>) -> PyResult<Option<&'a str>> {
    if item.is_none() {
        return Ok(None);
    }
    let s: &'a str = item.extract()?;
    Ok((!s.is_empty()).then_some(s))
}

/// A `float | None` field of an event.
fn opt_f64(item: Borrowed<'_, '_, PyAny>) -> PyResult<Option<f64>> {
    if item.is_none() {
        Ok(None)
    } else {
        item.extract().map(Some)
    }
}

/// The fields of a `TxEvent` (any tuple of its 10 fields), read by position.
fn extract_event<'a>(ev: &'a Bound<'_, PyAny>) -> PyResult<Event<'a>> {
    let tuple = ev.cast::<PyTuple>()?;
    if tuple.len() < 10 {
        return Err(PyTypeError::new_err(
            "expected a TxEvent tuple of 10 fields",
        ));
    }
    let item = |i: usize| tuple.get_borrowed_item(i);
    Ok(Event {
        time: item(0)?.extract()?,
        entity_id: item(1)?.extract()?,
        amount: item(2)?.extract()?,
        // `currency == "usd"`: anything but that string is foreign.
        home_currency: matches!(item(3)?.extract::<&str>(), Ok("usd")),
        ip_address: truthy_str(item(4)?)?,
        user_agent: truthy_str(item(5)?)?,
        card_bin: truthy_str(item(6)?)?,
        merchant_id: truthy_str(item(7)?)?,
        latitude: opt_f64(item(8)?)?,
        longitude: opt_f64(item(9)?)?,
    })
}

/// The bytes of a record value (`bytes` or `bytearray`).
fn record_bytes(value: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(bytes) = value.cast::<PyBytes>() {
        Ok(bytes.as_bytes().to_vec())
    } else if let Ok(array) = value.cast::<PyByteArray>() {
        Ok(array.to_vec())
    } else {
        Err(PyTypeError::new_err(
            "a changelog record must be bytes or None",
        ))
    }
}

/// The feature store of one input partition (or the shared label store),
/// bit-identical to `scorer.features.store.FeatureStore`.
#[pyclass(module = "scorer_native")]
pub struct NativeStore {
    inner: Store,
}

#[pymethods]
impl NativeStore {
    #[new]
    #[pyo3(signature = (lateness_s = 3600.0, ttl_s = 35.0 * 86400.0, distinct_cap = 64))]
    fn new(lateness_s: f64, ttl_s: f64, distinct_cap: i64) -> PyResult<Self> {
        Ok(NativeStore {
            inner: Store::new(lateness_s, ttl_s, distinct_cap)?,
        })
    }

    /// Lateness tolerated behind the watermark, seconds.
    #[getter]
    fn lateness_s(&self) -> f64 {
        self.inner.lateness_s
    }

    /// Idle time after which `expire` forgets an entity, seconds.
    #[getter]
    fn ttl_s(&self) -> f64 {
        self.inner.ttl_s
    }

    /// Most distinct values kept per kind and customer.
    #[getter]
    fn distinct_cap(&self) -> usize {
        self.inner.distinct_cap
    }

    /// Newest event time seen (`-inf` before any).
    #[getter]
    fn watermark(&self) -> f64 {
        self.inner.watermark
    }

    /// Events dropped as too late.
    #[getter]
    fn late_dropped(&self) -> u64 {
        self.inner.late_dropped
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// Entity keys held, sorted.
    fn keys(&self) -> Vec<&str> {
        self.inner.keys()
    }

    /// The feature vector of `ev` (`FeatureStore.row`).
    fn row(&self, ev: &Bound<'_, PyAny>) -> PyResult<Vec<f64>> {
        let ev = extract_event(ev)?;
        let mut keys = Keys::default();
        keys.fill(&ev);
        let mut row: Row = [0.0; FEATURE_COUNT];
        self.inner.row_into(&ev, &keys, &self.inner, &mut row)?;
        Ok(row.to_vec())
    }

    /// Adds `ev` to the state (`FeatureStore.update`); `False` if too late.
    fn update(&mut self, ev: &Bound<'_, PyAny>) -> PyResult<bool> {
        let ev = extract_event(ev)?;
        let mut keys = Keys::default();
        keys.fill(&ev);
        Ok(self.inner.update(&ev, &keys)?)
    }

    /// For each event in order: its row as `served_row(self, labels, ev)` gives
    /// it, then `update(ev)`. All rows as little-endian float64, row-major.
    fn served_rows<'py>(
        slf: &Bound<'py, Self>,
        events: &Bound<'py, PyAny>,
        labels: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        if labels.is(slf) {
            return Err(PyValueError::new_err(
                "labels must be another NativeStore than self",
            ));
        }
        let labels = labels.cast::<NativeStore>()?.try_borrow()?;
        let mut this = slf.try_borrow_mut()?;
        let list = events.cast::<PyList>().ok();
        let n = events.len()?;
        let mut keys = Keys::default();
        let mut row: Row = [0.0; FEATURE_COUNT];
        PyBytes::new_with(slf.py(), n * ROW_BYTES, |buf| {
            for (i, out) in buf.chunks_exact_mut(ROW_BYTES).enumerate() {
                let item = match list {
                    Some(list) => list.get_item(i)?,
                    None => events.get_item(i)?,
                };
                let ev = extract_event(&item)?;
                keys.fill(&ev);
                this.inner.row_into(&ev, &keys, &labels.inner, &mut row)?;
                this.inner.update(&ev, &keys)?;
                for (cell, value) in out.chunks_exact_mut(8).zip(&row) {
                    cell.copy_from_slice(&value.to_le_bytes());
                }
            }
            Ok(())
        })
    }

    /// Counts an arrived label in its merchant's risk (`FeatureStore.apply_label`).
    fn apply_label(
        &mut self,
        time: f64,
        merchant_id: Option<&str>,
        is_fraud: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let is_fraud = is_fraud.is_truthy()?;
        Ok(self.inner.apply_label(time, merchant_id, is_fraud)?)
    }

    /// Forgets entities idle longer than the TTL; returns how many.
    fn expire(&mut self, now_s: f64) -> usize {
        self.inner.expire(now_s)
    }

    /// How many keys are dirty (the set is not cleared).
    fn dirty_count(&self) -> usize {
        self.inner.dirty_count()
    }

    /// Clears the dirty keys, as `dirty_keys()` does.
    fn clear_dirty(&mut self) {
        self.inner.clear_dirty();
    }

    /// `(key, record or None)` for every entity changed since the last call
    /// (`FeatureStore.changelog_records`).
    fn changelog_records<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let mut buf = Vec::new();
        let records = self.inner.changelog_records(&mut buf)?;
        let items = records
            .into_iter()
            .map(|(key, range)| {
                let value = range.map(|r| PyBytes::new(py, &buf[r]).into_any());
                (key, value)
            })
            .collect::<Vec<_>>();
        PyList::new(py, items)
    }

    /// Loads the newest changelog record of every key (`FeatureStore.restore_changelog`).
    fn restore_changelog(&mut self, latest: &Bound<'_, PyDict>) -> PyResult<()> {
        for (key, value) in latest.iter() {
            let key: &str = &key.extract::<String>()?;
            if key.starts_with(HISTORY_PREFIX) {
                continue; // read with its head
            }
            if value.is_none() {
                self.inner.remove(key);
                continue;
            }
            let head = record_bytes(&value)?;
            let history = match latest.get_item(format!("{HISTORY_PREFIX}{key}"))? {
                Some(h) if !h.is_none() => Some(record_bytes(&h)?),
                _ => None,
            };
            let state = State::decode_split(&head, history.as_deref())?;
            self.inner.put(key, state);
        }
        Ok(())
    }

    /// The whole encoded state of `key` (version 2), `None` if it has none.
    fn snapshot<'py>(&self, py: Python<'py>, key: &str) -> Option<Bound<'py, PyBytes>> {
        self.inner.state(key).map(|state| {
            let mut buf = Vec::new();
            state.encode(&mut buf);
            PyBytes::new(py, &buf)
        })
    }

    /// Loads one whole snapshot (`None`: forget the key); not marked dirty.
    #[pyo3(signature = (key, data))]
    fn restore(&mut self, key: &str, data: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        match data.filter(|d| !d.is_none()) {
            None => self.inner.remove(key),
            Some(data) => {
                let state = State::decode_split(&record_bytes(data)?, None)?;
                self.inner.put(key, state);
            }
        }
        Ok(())
    }

    /// Entities held and the average payload and snapshot bytes per entity.
    fn memory_report<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let (n, payload, encoded) = self.inner.memory_report();
        let report = PyDict::new(py);
        report.set_item("entities", n)?;
        report.set_item("payload_bytes_per_entity", payload)?;
        report.set_item("snapshot_bytes_per_entity", encoded)?;
        Ok(report)
    }
}

#[pymodule]
fn scorer_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("FORMAT_VERSION", 3)?;
    m.add("FEATURE_COUNT", FEATURE_COUNT)?;
    m.add_class::<NativeStore>()?;
    Ok(())
}
