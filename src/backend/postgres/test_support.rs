//! For the unit tests: a fresh schema in the test cluster (ci/with-postgres.sh).

use super::{schema, PgUrl};

/// A fresh schema in the test cluster, prepared; `None` outside ci/with-postgres.sh.
pub fn database(tag: &str) -> Option<PgUrl> {
    let server = std::env::var("LNPAYSTORE_TEST_PG_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let Some(server) = server else {
        eprintln!("LNPAYSTORE_TEST_PG_URL is not set: PostgreSQL test skipped");
        return None;
    };
    let name = format!("unit_{tag}_{}", std::process::id());
    let mut c = PgUrl::parse(&server).unwrap().connect().unwrap();
    c.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
    ))
    .unwrap();
    let sep = if server.contains('?') { '&' } else { '?' };
    let url = PgUrl::parse(&format!("{server}{sep}options=-csearch_path%3D{name}")).unwrap();
    schema::prepare(&mut url.connect().unwrap()).unwrap();
    Some(url)
}
