//! A throwaway OpenLDAP server for tests (feature `testing`): [`Slapd`]
//! writes an old-style `slapd.conf` (mdb backend, the core, cosine,
//! inetorgperson and nis schemas from `/etc/ldap/schema`, the `memberof`
//! overlay) into a temp dir, loads [`LDIF`] with `slapadd`, and runs
//! `slapd` as the current user on a free loopback port until dropped.
//!
//! [`Slapd::start_tls`] also serves `ldaps://` on a second port and
//! StartTLS on the first, with a certificate for `localhost` and
//! `127.0.0.1` signed by a CA made for the test ([`Slapd::ca_file`]), both
//! made with `openssl`.
//!
//! Without `slapd` and `slapadd` (Debian packages `slapd`, `ldap-utils`;
//! and `openssl` for TLS) [`Slapd::start`] prints why and answers `None`,
//! unless `ATLAS_TEST_REQUIRE` names `ldap`, when it panics.
//!
//! # The directory (base [`BASE`])
//! - `uid=alice,ou=people`: password [`ALICE_PASSWORD`], member of
//!   [`GROUP_DN`] (`memberOf` set too).
//! - `uid=bob,ou=people`: password [`BOB_PASSWORD`], in no group.
//! - `uid=carol,ou=people`: **disabled** — `employeeType: disabled`, which
//!   [`DISABLED_AWARE_FILTER`] excludes (her password [`CAROL_PASSWORD`] is
//!   valid, so only the filter keeps her out); member of the group.
//! - `cn=Twin One` and `cn=Twin Two` under `ou=people`: both `uid=twin`,
//!   password [`TWIN_PASSWORD`], both in the group.
//! - `cn=atlas,ou=services`: the service account, password
//!   [`SERVICE_PASSWORD`].
//! - [`GROUP_DN`]: a `groupOfNames` with alice, carol and the twins.
//!
//! Access: passwords are only usable to bind; bound users read everything;
//! anonymous users read nothing.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use atlas_core::testing::service;

use crate::LdapConfig;

/// The directory's base DN.
pub const BASE: &str = "dc=atlas,dc=test";
/// Where users are.
pub const PEOPLE: &str = "ou=people,dc=atlas,dc=test";
/// The group whose members may sign in.
pub const GROUP_DN: &str = "cn=atlas-admins,ou=groups,dc=atlas,dc=test";
/// Where groups are.
pub const GROUPS: &str = "ou=groups,dc=atlas,dc=test";
/// The service account.
pub const SERVICE_DN: &str = "cn=atlas,ou=services,dc=atlas,dc=test";
/// Its password.
pub const SERVICE_PASSWORD: &str = "service-secret";
/// alice's password.
pub const ALICE_PASSWORD: &str = "wonderland";
/// bob's password.
pub const BOB_PASSWORD: &str = "builder";
/// carol's password (her account is disabled).
pub const CAROL_PASSWORD: &str = "looking-glass";
/// The twins' password.
pub const TWIN_PASSWORD: &str = "same-same";
/// The user filter that leaves disabled accounts out.
pub const DISABLED_AWARE_FILTER: &str =
    "(&(objectClass=inetOrgPerson)(uid={user})(!(employeeType=disabled)))";

/// What `slapadd` loads.
pub const LDIF: &str = "\
dn: dc=atlas,dc=test
objectClass: dcObject
objectClass: organization
dc: atlas
o: Atlas test directory

dn: ou=people,dc=atlas,dc=test
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=atlas,dc=test
objectClass: organizationalUnit
ou: groups

dn: ou=services,dc=atlas,dc=test
objectClass: organizationalUnit
ou: services

dn: cn=atlas,ou=services,dc=atlas,dc=test
objectClass: inetOrgPerson
cn: atlas
sn: service
userPassword: service-secret

dn: uid=alice,ou=people,dc=atlas,dc=test
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
userPassword: wonderland
memberOf: cn=atlas-admins,ou=groups,dc=atlas,dc=test

dn: uid=bob,ou=people,dc=atlas,dc=test
objectClass: inetOrgPerson
uid: bob
cn: Bob Builder
sn: Builder
userPassword: builder

dn: uid=carol,ou=people,dc=atlas,dc=test
objectClass: inetOrgPerson
uid: carol
cn: Carol Disabled
sn: Disabled
employeeType: disabled
userPassword: looking-glass
memberOf: cn=atlas-admins,ou=groups,dc=atlas,dc=test

dn: cn=Twin One,ou=people,dc=atlas,dc=test
objectClass: inetOrgPerson
uid: twin
cn: Twin One
sn: One
userPassword: same-same
memberOf: cn=atlas-admins,ou=groups,dc=atlas,dc=test

dn: cn=Twin Two,ou=people,dc=atlas,dc=test
objectClass: inetOrgPerson
uid: twin
cn: Twin Two
sn: Two
userPassword: same-same
memberOf: cn=atlas-admins,ou=groups,dc=atlas,dc=test

dn: cn=atlas-admins,ou=groups,dc=atlas,dc=test
objectClass: groupOfNames
cn: atlas-admins
member: uid=alice,ou=people,dc=atlas,dc=test
member: uid=carol,ou=people,dc=atlas,dc=test
member: cn=Twin One,ou=people,dc=atlas,dc=test
member: cn=Twin Two,ou=people,dc=atlas,dc=test
";

const SLAPD: &str = "/usr/sbin/slapd";
const SLAPADD: &str = "/usr/sbin/slapadd";

/// A running `slapd`; stopped (and its files removed) when dropped.
#[derive(Debug)]
pub struct Slapd {
    /// Its loopback port (`ldap://`, StartTLS when started with TLS).
    pub port: u16,
    /// Its `ldaps://` port, when started with TLS.
    pub tls_port: Option<u16>,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Slapd {
    /// Starts a server with [`LDIF`] loaded; `None` (the reason printed)
    /// when `slapd` or `slapadd` is missing.
    ///
    /// # Panics
    /// When the programs are missing and `ATLAS_TEST_REQUIRE` names
    /// `ldap`; when the server does not start.
    pub fn start() -> Option<Slapd> {
        Self::start_with(false)
    }

    /// Like [`start`](Self::start), also serving TLS (see the module doc).
    ///
    /// # Panics
    /// As [`start`](Self::start); also when `openssl` is missing and
    /// `ATLAS_TEST_REQUIRE` names `ldap`, or fails.
    pub fn start_tls() -> Option<Slapd> {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> Option<Slapd> {
        service::program("ldap", SLAPD)?;
        service::program("ldap", SLAPADD)?;
        for schema in ["core", "cosine", "inetorgperson", "nis"] {
            let path = format!("/etc/ldap/schema/{schema}.schema");
            if !Path::new(&path).is_file() {
                service::skip("ldap", &format!("schema {path} not found"));
                return None;
            }
        }
        let dir = tempfile::tempdir().expect("a temp dir");
        let db = dir.path().join("db");
        std::fs::create_dir(&db).expect("the database dir");
        let conf = dir.path().join("slapd.conf");
        let mut text = slapd_conf(dir.path(), &db);
        if tls {
            let openssl = service::program("ldap", "openssl")?;
            make_certificates(&openssl, dir.path());
            text = format!(
                "TLSCACertificateFile {d}/ca.pem\nTLSCertificateFile {d}/server.pem\n\
                 TLSCertificateKeyFile {d}/server.key\n{text}",
                d = dir.path().display()
            );
        }
        std::fs::write(&conf, text).expect("slapd.conf written");
        let ldif = dir.path().join("data.ldif");
        std::fs::write(&ldif, LDIF).expect("the LDIF written");
        let out = Command::new(SLAPADD)
            .arg("-f")
            .arg(&conf)
            .arg("-l")
            .arg(&ldif)
            .output()
            .expect("slapadd runs");
        assert!(
            out.status.success(),
            "slapadd failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let mut s = Slapd {
            port,
            tls_port: tls.then(free_port).filter(|p| *p != port),
            dir,
            child: None,
        };
        s.restart();
        Some(s)
    }

    /// `ldap://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// `ldaps://localhost:<tls_port>`, when started with TLS.
    pub fn ldaps_url(&self) -> Option<String> {
        self.tls_port.map(|p| format!("ldaps://localhost:{p}"))
    }

    /// The PEM file of the CA that signed the server's certificate.
    pub fn ca_file(&self) -> std::path::PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The temp dir the server's files are in (a test may put its own
    /// files there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Search-then-bind as the service account (its password in a file),
    /// users under [`PEOPLE`] with [`DISABLED_AWARE_FILTER`], members of
    /// [`GROUP_DN`] by `memberOf`.
    pub fn config(&self) -> LdapConfig {
        let pw = self.dir.path().join("bind.pw");
        std::fs::write(&pw, format!("{SERVICE_PASSWORD}\n")).expect("the password file written");
        LdapConfig {
            url: self.url(),
            timeout: 5,
            bind_dn: Some(SERVICE_DN.to_owned()),
            bind_password_file: Some(pw),
            user_base: PEOPLE.to_owned(),
            user_filter: DISABLED_AWARE_FILTER.to_owned(),
            required_group: Some(GROUP_DN.to_owned()),
            ..LdapConfig::default()
        }
    }

    /// Stops the server (a later [`restart`](Self::restart) serves the same
    /// data on the same port).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server (again), waiting until it accepts connections.
    ///
    /// # Panics
    /// When it exits or does not accept connections within about ten
    /// seconds.
    pub fn restart(&mut self) {
        self.stop();
        let log = std::fs::File::create(self.dir.path().join("slapd.log")).expect("the log file");
        let child = Command::new(SLAPD)
            .arg("-f")
            .arg(self.dir.path().join("slapd.conf"))
            .arg("-h")
            .arg(self.listeners())
            .args(["-d", "0"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log file"))
            .stderr(log)
            .spawn()
            .expect("slapd starts");
        self.child = Some(child);
        for _ in 0..200 {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("slapd exited ({status}): {}", self.log());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("slapd does not accept connections: {}", self.log());
    }

    fn listeners(&self) -> String {
        let mut urls = format!("ldap://127.0.0.1:{}/", self.port);
        if let Some(p) = self.tls_port {
            urls.push_str(&format!(" ldaps://127.0.0.1:{p}/"));
        }
        urls
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default()
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A test CA (`ca.pem`) and a certificate for `localhost` and `127.0.0.1`
/// it signed (`server.pem`, `server.key`) in `dir`.
fn make_certificates(openssl: &Path, dir: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new(openssl)
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Atlas test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .expect("the extensions file written");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn slapd_conf(dir: &Path, db: &Path) -> String {
    format!(
        "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
pidfile {dir}/slapd.pid
argsfile {dir}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
database mdb
suffix \"{BASE}\"
directory {db}
maxsize 10485760
overlay memberof
access to attrs=userPassword by anonymous auth by * none
access to * by users read by * none
",
        dir = dir.display(),
        db = db.display(),
    )
}
