//! Mission-control results in `mc_results (namespace, key, value)`: the same bytes as
//! in a store file (the result's TLV encoding under its 16-byte key). Writes run under
//! the writer lease's fence; reads need no lease.

use std::sync::{Arc, Mutex};

use postgres::Client;

use super::connect::PgUrl;
use super::error::{is_connection_lost, storage};
use super::lease::Lease;
use crate::error::{Error, Result};
use crate::missioncontrol::{McTable, RowVisitor};
use crate::sync::lock;

/// The mission-control table of one database, on a connection of its own (flushes are
/// once a second per namespace: one connection is plenty).
pub struct PgMcTable {
    url: PgUrl,
    /// The writer's lease; `None` for a read-only open, whose table refuses changes.
    lease: Option<Arc<Lease>>,
    client: Mutex<Option<Client>>,
}

impl PgMcTable {
    pub fn new(url: PgUrl, lease: Option<Arc<Lease>>) -> PgMcTable {
        PgMcTable {
            url,
            lease,
            client: Mutex::new(None),
        }
    }

    /// Runs `f` on the connection, opening it first if needed; a lost connection is
    /// dropped so that the next call opens a new one.
    fn with_client<T>(
        &self,
        what: &str,
        f: impl FnOnce(&mut Client) -> std::result::Result<T, postgres::Error>,
    ) -> Result<T> {
        if let Some(lease) = &self.lease {
            lease.check()?;
        }
        let mut slot = lock(&self.client);
        if slot.is_none() {
            *slot = Some(self.url.connect()?);
        }
        let client = slot.as_mut().expect("connected above");
        match f(client) {
            Ok(v) => Ok(v),
            Err(e) => {
                if is_connection_lost(&e) {
                    *slot = None;
                }
                Err(storage(what, &e))
            }
        }
    }

    /// A write transaction fenced on the lease: `NOT_LEADER` and nothing written when it
    /// is no longer ours.
    fn write_tx(
        &self,
        what: &str,
        f: impl FnOnce(&mut postgres::Transaction<'_>) -> std::result::Result<(), postgres::Error>,
    ) -> Result<()> {
        let lease = self
            .lease
            .clone()
            .ok_or(Error::ReadOnly("mission control"))?;
        let fenced = self.with_client(what, |client| {
            let mut tx = client.transaction()?;
            let held = tx.query_opt(super::lease::FENCE, &[&lease.holder(), &lease.term()])?;
            if held.is_none() {
                return Ok(false);
            }
            f(&mut tx)?;
            tx.commit()?;
            Ok(true)
        })?;
        if !fenced {
            lease.mark_lost(format!(
                "the lease of term {} is no longer ours in the database",
                lease.term()
            ));
            return lease.check();
        }
        Ok(())
    }
}

impl McTable for PgMcTable {
    fn read_only(&self) -> bool {
        self.lease.is_none()
    }

    fn scan(&self, namespace: &str, visit: &mut RowVisitor<'_>) -> Result<()> {
        crate::missioncontrol::check_namespace(namespace)?;
        let rows = self.with_client("mission control: read", |c| {
            c.query(
                "SELECT key, value FROM mc_results WHERE namespace = $1 ORDER BY key",
                &[&namespace],
            )
        })?;
        for row in &rows {
            visit(row.get::<_, &[u8]>(0), row.get::<_, &[u8]>(1));
        }
        Ok(())
    }

    fn write(&self, namespace: &str, add: &[(&[u8], &[u8])], remove: &[&[u8]]) -> Result<()> {
        crate::missioncontrol::check_namespace(namespace)?;
        let keys: Vec<&[u8]> = add.iter().map(|(k, _)| *k).collect();
        let values: Vec<&[u8]> = add.iter().map(|(_, v)| *v).collect();
        self.write_tx("mission control: flush", |tx| {
            if !keys.is_empty() {
                tx.execute(
                    "INSERT INTO mc_results (namespace, key, value) \
                     SELECT $1, k, v FROM unnest($2::bytea[], $3::bytea[]) AS r(k, v) \
                     ON CONFLICT (namespace, key) DO UPDATE SET value = EXCLUDED.value",
                    &[&namespace, &keys, &values],
                )?;
            }
            if !remove.is_empty() {
                tx.execute(
                    "DELETE FROM mc_results WHERE namespace = $1 AND key = ANY($2)",
                    &[&namespace, &remove],
                )?;
            }
            Ok(())
        })
    }

    fn clear(&self, namespace: &str) -> Result<()> {
        crate::missioncontrol::check_namespace(namespace)?;
        self.write_tx("mission control: clear", |tx| {
            tx.execute("DELETE FROM mc_results WHERE namespace = $1", &[&namespace])
                .map(drop)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::backend::postgres::test_support::database;
    use crate::backend::postgres::LeaseConfig;
    use crate::backend::{RedbBackend, RedbConfig};
    use crate::missioncontrol::{KvTable, McOptions, MissionControl, Namespaces};
    use crate::model::{McFailure, McHop, McResult, McRoute};

    fn results() -> Vec<McResult> {
        (1..=20u64)
            .map(|n| McResult {
                id: n,
                time_forwarded_ns: (n as i64) * 1_000_000_000 - 500,
                time_reply_ns: (n as i64) * 1_000_000_000,
                route: McRoute {
                    source_pub_key: [0x02; 33],
                    total_amount_msat: 1000 + n,
                    hops: vec![McHop {
                        channel_id: n,
                        pub_key: [0x03; 33],
                        amt_to_forward_msat: 1000,
                        has_blinding_point: n % 2 == 0,
                        has_custom_records: false,
                    }],
                },
                failure: (n % 3 == 0).then(|| McFailure {
                    source_index: Some(1),
                    message: Some(vec![0x40, 0x0f, n as u8]),
                }),
            })
            .collect()
    }

    fn rows(table: &dyn McTable, namespace: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut rows = Vec::new();
        table
            .scan(namespace, &mut |k, v| rows.push((k.to_vec(), v.to_vec())))
            .unwrap();
        rows
    }

    #[test]
    fn the_same_results_are_the_same_bytes_as_in_a_store_file() {
        let Some(url) = database("bytes") else { return };
        let lease = Arc::new(Lease::acquire(&url, LeaseConfig::default()).unwrap());
        let pg: Arc<dyn McTable> = Arc::new(PgMcTable::new(url.clone(), Some(lease.clone())));
        let dir = tempfile::tempdir().unwrap();
        let redb = RedbBackend::open(&dir.path().join("mc.db"), RedbConfig::default()).unwrap();
        crate::backend::schema::prepare(&redb).unwrap();
        let kv: Arc<dyn McTable> = Arc::new(KvTable::new(Arc::new(redb)));
        let options = McOptions {
            max_records: 15,
            flush_interval: Duration::from_secs(60),
        };

        let namespaces = Arc::new(Namespaces::default());
        let file = MissionControl::open(
            kv.clone(),
            &Arc::new(Namespaces::default()),
            "default",
            options,
        )
        .unwrap();
        let db = MissionControl::open(pg.clone(), &namespaces, "default", options).unwrap();
        for r in results() {
            file.add_result(r.clone()).unwrap();
            db.add_result(r).unwrap();
        }
        file.flush().unwrap();
        db.flush().unwrap();
        assert_eq!(db.fetch_all().unwrap(), file.fetch_all().unwrap());
        assert_eq!(db.stats().unwrap().stored, 15);
        assert_eq!(db.stats().unwrap().evicted, 5);

        let stored = rows(kv.as_ref(), "default");
        assert_eq!(stored.len(), 15);
        assert_eq!(
            rows(pg.as_ref(), "default"),
            stored,
            "row for row, byte for byte"
        );

        // Reopened: the keys come back, other namespaces are apart, clear empties one.
        db.close().unwrap();
        let db = MissionControl::open(pg.clone(), &namespaces, "default", options).unwrap();
        assert_eq!(db.stats().unwrap().stored, 15);
        let other = MissionControl::open(pg.clone(), &namespaces, "other", options).unwrap();
        assert!(other.fetch_all().unwrap().is_empty());
        db.clear().unwrap();
        assert!(rows(pg.as_ref(), "default").is_empty());
    }

    #[test]
    fn a_writer_that_lost_its_lease_writes_no_results() {
        let Some(url) = database("fenced") else {
            return;
        };
        let lease = Arc::new(Lease::acquire(&url, LeaseConfig::default()).unwrap());
        let pg = PgMcTable::new(url.clone(), Some(lease.clone()));
        pg.write("ns", &[(&[1u8; 49][..], &b"v"[..])], &[]).unwrap();
        // Another writer takes the lease behind this one's back.
        url.connect()
            .unwrap()
            .execute("UPDATE lease SET holder = 'standby', term = term + 1", &[])
            .unwrap();
        let err = pg
            .write("ns", &[(&[2u8; 49][..], &b"v"[..])], &[])
            .unwrap_err();
        assert_eq!(err.status(), crate::LpsStatus::NotLeader, "{err}");
        let err = pg.clear("ns").unwrap_err();
        assert_eq!(err.status(), crate::LpsStatus::NotLeader, "{err}");
        let n: i64 = url
            .connect()
            .unwrap()
            .query_one("SELECT count(*) FROM mc_results", &[])
            .unwrap()
            .get(0);
        assert_eq!(n, 1);
    }
}
