//! The `jdbc` sync destination end to end: a pipe from the real 389 DS to a table of the real PostgreSQL of
//! tests/run.sh (`FERROSYNC_TEST_POSTGRES_*`; missing, the tests fail), declared with a dsconfig batch: resync
//! creates rows and then leaves them alone, real-time modifies update only the changed columns, deletes delete
//! the row; a mapping to a missing column and a value its column cannot hold fail naming the column. Each test
//! makes a schema of its own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::time::Duration;

use ferrosync::entry::Value;
use ferrosync_ldap::Modification;
use ferrosync_testkit::postgres;
use tokio_postgres::Client;
use util::scenario::Scenario;
use util::{eventually, ServerGuard};

const WAIT: Duration = Duration::from_secs(30);

fn env(name: &str) -> String {
    let var = format!("FERROSYNC_TEST_POSTGRES_{name}");
    std::env::var(&var).unwrap_or_else(|_| panic!("{var} is not set: run the tests with tests/run.sh"))
}

/// A fresh schema with the table `people`, and a client on it.
async fn table(label: &str) -> (Client, String) {
    let url = postgres::fresh_url(label);
    let schema = url.schema.clone();
    let client =
        tokio::task::spawn_blocking(move || ferrosync::store::connect_client(&url, None).unwrap()).await.unwrap();
    client
        .batch_execute(&format!(
            "CREATE SCHEMA \"{schema}\";
             CREATE TABLE \"{schema}\".people (
                 user_id     text PRIMARY KEY,
                 full_name   text NOT NULL,
                 surname     varchar(64),
                 mails       text[],
                 employee_no integer,
                 unmapped    text DEFAULT 'kept'
             );"
        ))
        .await
        .unwrap();
    (client, schema)
}

/// The external server `pg` (TLS, verify-full, its password from a passphrase provider) and the destination
/// `db` on table `people` of `schema`, with `maps` as its column maps; pipe `pj` from `src` to it.
fn batch(schema: &str, destination: &str, pipe: &str, maps: &[&str]) -> String {
    let maps: String = maps.iter().map(|m| format!(" --set column-map:{m}")).collect();
    format!(
        "dsconfig create-passphrase-provider --provider-name pgpw-{destination} --type file-based --set password-file:{pw}\n\
         dsconfig create-external-server --server-name pg-{destination} --type jdbc --set jdbc-driver-type:postgres \
         --set server-host-name:{host} --set server-port:{port} --set database-name:{db} --set user-name:{role} \
         --set passphrase-provider:pgpw-{destination} --set jdbc-connection-properties:sslmode=verify-full \
         --set jdbc-connection-properties:sslrootcert={ca}\n\
         dsconfig create-sync-destination --destination-name {destination} --type jdbc --set server:pg-{destination} \
         --set table:{schema}.people --set key-column:user_id{maps}\n\
         dsconfig create-sync-pipe --pipe-name {pipe} --set sync-source:src --set sync-destination:{destination} \
         --set num-worker-threads:4 --set \"change-detection-polling-interval:100 ms\"\n\
         dsconfig create-sync-class --pipe-name {pipe} --class-name people --set include-base-dn:ou=people,BASE \
         --set \"include-filter:(objectClass=inetOrgPerson)\" --set destination-correlation-attributes:dn\n",
        pw = env("PASSWORD_FILE"),
        host = "localhost",
        port = env("PORT"),
        db = env("DATABASE"),
        role = env("ROLE"),
        ca = env("CA_FILE"),
    )
}

const MAPS: &[&str] = &["uid:user_id", "cn:full_name", "sn:surname", "mail:mails", "employeeNumber:employee_no"];

/// The row of `user_id`: full_name, surname, mails, employee_no, unmapped, and its xmin (which changes with
/// every UPDATE of the row).
type RowView = (String, Option<String>, Option<Vec<String>>, Option<i32>, Option<String>, String);

async fn row(client: &Client, schema: &str, user_id: &str) -> Option<RowView> {
    let sql = format!(
        "SELECT full_name, surname, mails, employee_no, unmapped, xmin::text FROM \"{schema}\".people WHERE user_id = $1"
    );
    client
        .query_opt(&sql, &[&user_id])
        .await
        .unwrap()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
}

#[tokio::test(flavor = "multi_thread")]
async fn entries_become_rows_and_changes_touch_only_their_columns() {
    let (db, schema) = table("jdbc").await;
    let s = Scenario::new("jdbc").await;
    s.dsconfig(&batch(&schema, "db", "pj", MAPS));
    let a = s.add_person("ja", &[("mail", "ja@example.com"), ("employeeNumber", "42")]).await;
    s.src.modify(&a, &[Modification::Add("mail".into(), vec![Value::from("ja2@example.com")])]).await.unwrap();
    let b = s.add_person("jb", &[("sn", "Bee")]).await;

    // Resync creates the rows.
    let out = s.root.run("resync", &["--pipe-name", "pj"]);
    let text = format!("{}{}{}", out.stdout(), out.stderr(), s.log());
    out.ok();
    let ra = row(&db, &schema, "ja").await.unwrap_or_else(|| panic!("no row for ja:\n{text}"));
    assert_eq!(ra.0, "ja");
    assert_eq!(ra.1.as_deref(), Some("Tester"));
    let mut mails = ra.2.clone().unwrap();
    mails.sort();
    assert_eq!(mails, ["ja2@example.com", "ja@example.com"], "a multi-valued attribute in an array column");
    assert_eq!(ra.3, Some(42), "text cast to integer");
    assert_eq!(ra.4.as_deref(), Some("kept"), "an unmapped column is left to its default");
    let rb = row(&db, &schema, "jb").await.unwrap();
    assert_eq!((rb.1.as_deref(), rb.2.clone(), rb.3), (Some("Bee"), None, None));

    // A second resync compares the rows and finds nothing to write: no row is updated.
    let out = s.root.run("resync", &["--pipe-name", "pj"]);
    let text = format!("{}{}", out.stdout(), out.stderr());
    out.ok();
    assert_eq!(row(&db, &schema, "ja").await.unwrap().5, ra.5, "the unchanged row was not written:\n{text}");
    assert_eq!(row(&db, &schema, "jb").await.unwrap().5, rb.5, "the unchanged row was not written:\n{text}");

    // Real time. A column changed behind the pipe's back stays as it is when another attribute changes: the
    // UPDATE sets only the changed column.
    db.execute(&format!("UPDATE \"{schema}\".people SET full_name = 'set in the database' WHERE user_id = 'ja'"), &[])
        .await
        .unwrap();
    let out = s.root.run("realtime-sync", &["set-startpoint", "--pipe-name", "pj", "--end-of-changelog"]);
    out.ok();
    s.root.run("realtime-sync", &["start", "--pipe-name", "pj"]).ok();
    let server = ServerGuard::start(&s.root);
    s.src.modify(&a, &[Modification::Replace("sn".into(), vec![Value::from("Changed")])]).await.unwrap();
    eventually("the modify reaches the row", WAIT, || async {
        row(&db, &schema, "ja").await.is_some_and(|r| r.1.as_deref() == Some("Changed"))
    })
    .await;
    let ra2 = row(&db, &schema, "ja").await.unwrap();
    assert_eq!(ra2.0, "set in the database", "only the changed column was written");
    assert_eq!((ra2.3, ra2.4.as_deref()), (Some(42), Some("kept")));
    assert_eq!(row(&db, &schema, "jb").await.unwrap().5, rb.5, "the other row is untouched");
    // A value removed from a multi-valued attribute leaves the array.
    s.src.modify(&a, &[Modification::Delete("mail".into(), vec![Value::from("ja2@example.com")])]).await.unwrap();
    eventually("the value leaves the array", WAIT, || async {
        row(&db, &schema, "ja").await.is_some_and(|r| r.2 == Some(vec!["ja@example.com".to_string()]))
    })
    .await;
    // An add in real time is an INSERT; a delete a DELETE.
    let c = s.add_person("jc", &[("employeeNumber", "7")]).await;
    eventually("the add reaches the table", WAIT, || async {
        row(&db, &schema, "jc").await.is_some_and(|r| r.3 == Some(7))
    })
    .await;
    s.src.delete(&b).await.unwrap();
    s.src.delete(&c).await.unwrap();
    eventually("the deletes reach the table", WAIT, || async {
        row(&db, &schema, "jb").await.is_none() && row(&db, &schema, "jc").await.is_none()
    })
    .await;
    // A rename that changes the RDN (the key's attribute) updates the key column of the same row.
    s.src.modify_dn(&a, "uid=ja2", true, None).await.unwrap();
    eventually("the rename reaches the key column", WAIT, || async {
        row(&db, &schema, "ja").await.is_none()
            && row(&db, &schema, "ja2").await.is_some_and(|r| r.1.as_deref() == Some("Changed") && r.3 == Some(42))
    })
    .await;
    drop(server);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_column_and_a_value_its_column_cannot_hold_fail_naming_the_column() {
    let (db, schema) = table("jdbcbad").await;
    let s = Scenario::new("jdbcbad").await;
    let mut maps = MAPS.to_vec();
    maps.push("description:no_such_column");
    s.dsconfig(&batch(&schema, "bad", "pbad", &maps));
    s.dsconfig(&batch(&schema, "db", "pj", MAPS));
    s.add_person("jx", &[("employeeNumber", "not a number")]).await;
    s.add_person("jy", &[]).await;

    // The mapping is checked against the table before anything is written.
    let out = s.root.run("resync", &["--pipe-name", "pbad"]);
    let err = out.fails();
    let all = format!("{}{err}", out.stdout());
    assert!(
        all.contains("column-map 'description:no_such_column' names column 'no_such_column', which table")
            && all.contains(&format!("{schema}.people does not have")),
        "{all}"
    );
    assert!(row(&db, &schema, "jy").await.is_none(), "nothing was written");

    // A value the column's type cannot hold fails its entry, naming the column; the others are written.
    let out = s.root.run("resync", &["--pipe-name", "pj"]);
    let all = format!("{}{}{}", out.stdout(), out.stderr(), s.log());
    assert!(row(&db, &schema, "jy").await.is_some(), "the good entry was written:\n{all}");
    assert!(row(&db, &schema, "jx").await.is_none());
    assert!(
        all.contains("column 'employee_no' of table")
            && all.contains("cannot hold the value of attribute 'employeeNumber'"),
        "{all}"
    );
}

/// The phone numbers of `user_id` in the child table, sorted.
async fn phones(client: &Client, schema: &str, user_id: &str) -> Vec<String> {
    let sql = format!("SELECT number FROM \"{schema}\".phones WHERE user_id = $1 ORDER BY number");
    client.query(&sql, &[&user_id]).await.unwrap().iter().map(|r| r.get(0)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_multi_valued_attribute_in_a_child_table_follows_adds_removals_renames_and_deletes() {
    let (db, schema) = table("jdbcchild").await;
    // A plain foreign key (no ON UPDATE / ON DELETE CASCADE): ferrosync moves and deletes the child rows itself.
    db.batch_execute(&format!(
        "CREATE TABLE \"{schema}\".phones (user_id text NOT NULL REFERENCES \"{schema}\".people(user_id), number text NOT NULL)"
    ))
    .await
    .unwrap();
    let s = Scenario::new("jdbcchild").await;
    s.dsconfig(&batch(&schema, "db", "pj", MAPS));
    s.root
        .dsconfig(&[
            "set-sync-destination-prop",
            "--destination-name",
            "db",
            "--add",
            &format!("child-table-map:telephoneNumber:{schema}.phones:user_id:number"),
            "--no-prompt",
        ])
        .ok();
    let a = s.add_person("ka", &[("telephoneNumber", "+1 555 0001"), ("telephoneNumber", "+1 555 0002")]).await;

    let out = s.root.run("resync", &["--pipe-name", "pj"]);
    let text = format!("{}{}{}", out.stdout(), out.stderr(), s.log());
    out.ok();
    assert_eq!(phones(&db, &schema, "ka").await, ["+1 555 0001", "+1 555 0002"], "{text}");
    let out = s.root.run("resync", &["--pipe-name", "pj"]).ok();
    assert!(out.contains("1 entries were in-sync"), "the child rows are compared: {out}");

    s.root.run("realtime-sync", &["set-startpoint", "--pipe-name", "pj", "--end-of-changelog"]).ok();
    s.root.run("realtime-sync", &["start", "--pipe-name", "pj"]).ok();
    let server = ServerGuard::start(&s.root);
    s.src
        .modify(
            &a,
            &[
                Modification::Delete("telephoneNumber".into(), vec![Value::from("+1 555 0001")]),
                Modification::Add("telephoneNumber".into(), vec![Value::from("+1 555 0003")]),
            ],
        )
        .await
        .unwrap();
    eventually("the values reach the child table", WAIT, || async {
        phones(&db, &schema, "ka").await == ["+1 555 0002", "+1 555 0003"]
    })
    .await;
    s.src.modify_dn(&a, "uid=ka2", true, None).await.unwrap();
    eventually("the child rows follow the key", WAIT, || async {
        phones(&db, &schema, "ka").await.is_empty()
            && phones(&db, &schema, "ka2").await == ["+1 555 0002", "+1 555 0003"]
            && row(&db, &schema, "ka2").await.is_some()
    })
    .await;
    s.src.delete(&s.dn("uid=ka2,ou=people")).await.unwrap();
    eventually("the delete takes the child rows along", WAIT, || async {
        row(&db, &schema, "ka2").await.is_none() && phones(&db, &schema, "ka2").await.is_empty()
    })
    .await;
    drop(server);
}

/// The members and description of group `name` in table `groups`.
async fn group(client: &Client, schema: &str, name: &str) -> Option<(Option<Vec<String>>, Option<String>)> {
    let sql = format!("SELECT members, description FROM \"{schema}\".groups WHERE group_name = $1");
    client.query_opt(&sql, &[&name]).await.unwrap().map(|r| (r.get(0), r.get(1)))
}

/// The sorted members of group `name`, in lower case.
async fn members(client: &Client, schema: &str, name: &str) -> Vec<String> {
    let mut m: Vec<String> = group(client, schema, name)
        .await
        .and_then(|g| g.0)
        .unwrap_or_default()
        .iter()
        .map(|m| m.to_lowercase())
        .collect();
    m.sort();
    m
}

/// People to the `people` table and groups to a `groups` table of the same destination (object-class-table-map),
/// by resync and in real time; an entry of a class no table takes fails naming its classes;
/// `resync --deleteMissingEntries` deletes the rows of both tables that no source entry has, and only those.
#[tokio::test(flavor = "multi_thread")]
async fn people_and_groups_go_to_their_tables_by_object_class() {
    let (db, schema) = table("jdbcoc").await;
    db.batch_execute(&format!(
        "CREATE TABLE \"{schema}\".groups (group_name text PRIMARY KEY, members text[], description text)"
    ))
    .await
    .unwrap();
    let s = Scenario::new("jdbcoc").await;
    s.dsconfig(&batch(&schema, "db", "pj", MAPS));
    let g = format!("{schema}.groups");
    s.dsconfig(&format!(
        "dsconfig set-sync-destination-prop --destination-name db --add object-class-table-map:inetOrgPerson:{schema}.people \
         --add object-class-table-map:groupOfNames:{g} \
         --add key-column:{g}:group_name --add column-map:{g}:cn:group_name --add column-map:{g}:member:members \
         --add column-map:{g}:description:description --add base-dn:ou=people,BASE --add base-dn:{g}:ou=groups,BASE\n\
         dsconfig create-sync-class --pipe-name pj --class-name groups --set include-base-dn:ou=groups,BASE \
         --set \"include-filter:(objectClass=groupOfNames)\" --set destination-correlation-attributes:dn\n"
    ));
    let ja = s.add_person("ja", &[]).await;
    let jb = s.add_person("jb", &[]).await;
    let add_group = |cn: &'static str, members: Vec<String>| {
        let dn = s.dn(&format!("cn={cn},ou=groups"));
        let mut attrs = vec![("objectClass", "groupOfNames".to_string()), ("cn", cn.to_string())];
        attrs.extend(members.into_iter().map(|m| ("member", m)));
        let e = util::scenario::entry(&dn, &attrs.iter().map(|(a, v)| (*a, v.as_str())).collect::<Vec<_>>());
        let src = &s.src;
        async move {
            src.add(&e).await.unwrap();
            dn
        }
    };
    let g1 = add_group("g1", vec![ja.clone()]).await;
    let g2 = add_group("g2", vec![ja.clone(), jb.clone()]).await;

    let out = s.root.run("resync", &["--pipe-name", "pj"]);
    let text = format!("{}{}{}", out.stdout(), out.stderr(), s.log());
    out.ok();
    assert!(row(&db, &schema, "ja").await.is_some() && row(&db, &schema, "jb").await.is_some(), "{text}");
    assert_eq!(members(&db, &schema, "g1").await, [ja.to_lowercase()], "{text}");
    let mut both = vec![ja.to_lowercase(), jb.to_lowercase()];
    both.sort();
    assert_eq!(members(&db, &schema, "g2").await, both);
    let people: i64 = db.query_one(&format!("SELECT count(*) FROM \"{schema}\".people"), &[]).await.unwrap().get(0);
    assert_eq!(people, 2, "the groups are not rows of the people table");
    let out = s.root.run("resync", &["--pipe-name", "pj"]).ok();
    assert!(out.contains("4 entries were in-sync"), "both tables are compared: {out}");

    // --deleteMissingEntries: rows no source entry has go, from both tables; a dry run only says so.
    db.batch_execute(&format!(
        "INSERT INTO \"{schema}\".people (user_id, full_name) VALUES ('stray', 'Stray Row');
         INSERT INTO \"{schema}\".groups (group_name) VALUES ('oldgroup');"
    ))
    .await
    .unwrap();
    let out = s.root.run("resync", &["--pipe-name", "pj", "--deleteMissingEntries", "--dry-run"]).ok();
    assert!(row(&db, &schema, "stray").await.is_some() && group(&db, &schema, "oldgroup").await.is_some(), "{out}");
    let out = s.root.run("resync", &["--pipe-name", "pj", "--deleteMissingEntries"]);
    let text = format!("{}{}{}", out.stdout(), out.stderr(), s.log());
    out.ok();
    assert!(row(&db, &schema, "stray").await.is_none(), "the stray person row is deleted:\n{text}");
    assert!(group(&db, &schema, "oldgroup").await.is_none(), "the stray group row is deleted:\n{text}");
    assert!(row(&db, &schema, "ja").await.is_some() && row(&db, &schema, "jb").await.is_some(), "{text}");
    assert!(group(&db, &schema, "g1").await.is_some() && group(&db, &schema, "g2").await.is_some(), "{text}");

    // Real time: a new process finds each row's table from the DN (the RDN's attribute is the key's).
    s.root.run("realtime-sync", &["set-startpoint", "--pipe-name", "pj", "--end-of-changelog"]).ok();
    s.root.run("realtime-sync", &["start", "--pipe-name", "pj"]).ok();
    let server = ServerGuard::start(&s.root);
    s.src
        .modify(
            &g1,
            &[
                Modification::Add("member".into(), vec![Value::from(jb.as_str())]),
                Modification::Replace("description".into(), vec![Value::from("the first")]),
            ],
        )
        .await
        .unwrap();
    eventually("the group modify reaches the groups table", WAIT, || async {
        group(&db, &schema, "g1").await.is_some_and(|g| g.1.as_deref() == Some("the first"))
    })
    .await;
    assert_eq!(members(&db, &schema, "g1").await, both);
    let g3 = add_group("g3", vec![jb.clone()]).await;
    s.src.delete(&g2).await.unwrap();
    s.src.modify(&ja, &[Modification::Replace("sn".into(), vec![Value::from("Moved")])]).await.unwrap();
    eventually("the add, delete and person modify reach their tables", WAIT, || async {
        group(&db, &schema, "g3").await.is_some()
            && group(&db, &schema, "g2").await.is_none()
            && row(&db, &schema, "ja").await.is_some_and(|r| r.1.as_deref() == Some("Moved"))
    })
    .await;
    drop(server);
    let _ = g3;

    // Without a table for other classes, an entry whose classes no object-class-table-map names fails, naming
    // them; the groups still go to their table.
    let (db2, schema2) = table("jdbcoc2").await;
    db2.batch_execute(&format!(
        "CREATE TABLE \"{schema2}\".groups (group_name text PRIMARY KEY, members text[], description text)"
    ))
    .await
    .unwrap();
    let g = format!("{schema2}.groups");
    s.dsconfig(&format!(
        "dsconfig create-sync-destination --destination-name onlygroups --type jdbc --set server:pg-db \
         --set object-class-table-map:groupOfNames:{g} --set key-column:{g}:group_name \
         --set column-map:{g}:cn:group_name --set column-map:{g}:member:members\n\
         dsconfig create-sync-pipe --pipe-name pg2 --set sync-source:src --set sync-destination:onlygroups\n\
         dsconfig create-sync-class --pipe-name pg2 --class-name all --set include-base-dn:BASE \
         --set destination-correlation-attributes:dn\n"
    ));
    let out = s.root.run("resync", &["--pipe-name", "pg2"]);
    let text = format!("{}{}{}", out.stdout(), out.stderr(), s.log());
    assert!(
        text.contains(&format!("{ja} has the object classes"))
            && text.contains("none of which object-class-table-map maps to a table (it maps groupOfNames)"),
        "{text}"
    );
    assert!(group(&db2, &schema2, "g1").await.is_some(), "the groups are written: {text}");
    let out = s.root.run("resync", &["--pipe-name", "pg2", "--deleteMissingEntries"]);
    let err = out.fails();
    assert!(err.contains("--deleteMissingEntries needs a sync destination that can list its entries"), "{err}");
}

/// `resync --deleteMissingEntries` when the key is not the RDN's attribute: a row the resync correlated is named
/// by the DN the pipe gave it, so it stays; a row no source entry has goes.
#[tokio::test(flavor = "multi_thread")]
async fn delete_missing_entries_keeps_rows_whose_key_is_not_the_rdn() {
    let (db, schema) = table("jdbcdm").await;
    db.batch_execute(&format!("ALTER TABLE \"{schema}\".people ALTER COLUMN employee_no SET NOT NULL;
         ALTER TABLE \"{schema}\".people DROP CONSTRAINT people_pkey; ALTER TABLE \"{schema}\".people ADD PRIMARY KEY (employee_no)"))
        .await
        .unwrap();
    let s = Scenario::new("jdbcdm").await;
    let text = batch(&schema, "db", "pj", MAPS).replace("--set key-column:user_id", "--set key-column:employee_no");
    s.dsconfig(&text);
    s.dsconfig(&format!(
        "dsconfig set-sync-destination-prop --destination-name db --set base-dn:ou=people,BASE \
         --set object-class-table-map:inetOrgPerson:{schema}.people\n\
         dsconfig set-sync-class-prop --pipe-name pj --class-name people --set destination-correlation-attributes:employeeNumber\n"
    ));
    s.add_person("ka", &[("employeeNumber", "5")]).await;
    s.add_person("kb", &[("employeeNumber", "6")]).await;
    s.root.run("resync", &["--pipe-name", "pj"]).ok();
    db.execute(
        &format!("INSERT INTO \"{schema}\".people (user_id, full_name, employee_no) VALUES ('gone', 'Gone', 99)"),
        &[],
    )
    .await
    .unwrap();
    let out = s.root.run("resync", &["--pipe-name", "pj", "--deleteMissingEntries"]);
    let text = format!("{}{}{}", out.stdout(), out.stderr(), s.log());
    out.ok();
    assert!(
        row(&db, &schema, "ka").await.is_some() && row(&db, &schema, "kb").await.is_some(),
        "live rows stay:\n{text}"
    );
    assert!(row(&db, &schema, "gone").await.is_none(), "the row without a source entry goes:\n{text}");
    assert!(text.contains("deleted 1,"), "one row deleted:\n{text}");
}
