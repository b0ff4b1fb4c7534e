//! TLS material of the HTTP door: loads `http.tls.cert_file` /
//! `http.tls.key_file`, or generates a self-signed certificate into them on
//! the first start (`http.tls.self_signed`), and builds the rustls server
//! configuration (ring provider, HTTP/1.1 over ALPN).
//!
//! The private key file is created with mode 0600 and never logged; only the
//! certificate's SHA-256 fingerprint is.

use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::Config;

/// The rustls configuration for `cfg`, or `None` when `http.tls.enabled`
/// is false. Generates the self-signed pair first when allowed and absent.
pub fn server_config(cfg: &Config) -> Result<Option<Arc<ServerConfig>>> {
    if !cfg.http.tls.enabled {
        return Ok(None);
    }
    let (cert_path, key_path) = (cfg.tls_cert_path(), cfg.tls_key_path());
    match (cert_path.exists(), key_path.exists()) {
        (true, true) => {}
        (false, false) if cfg.http.tls.self_signed => {
            generate_self_signed(&cert_path, &key_path, &self_signed_names(cfg))?;
            tracing::info!(cert = %cert_path.display(), "generated a self-signed TLS certificate");
        }
        (false, false) => bail!(
            "http.tls is enabled but {} and {} do not exist (set http.tls.self_signed = true to generate them)",
            cert_path.display(),
            key_path.display()
        ),
        _ => bail!(
            "only one of {} and {} exists; provide both or remove the other to regenerate",
            cert_path.display(),
            key_path.display()
        ),
    }
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .with_context(|| format!("reading {}", cert_path.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing certificates in {}", cert_path.display()))?;
    if certs.is_empty() {
        bail!("{} holds no certificate", cert_path.display());
    }
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .with_context(|| format!("reading the private key in {}", key_path.display()))?;
    let fingerprint = ring::digest::digest(&ring::digest::SHA256, certs[0].as_ref());
    let mut config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .with_context(|| format!("{} does not match {}", key_path.display(), cert_path.display()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    tracing::info!(cert = %cert_path.display(), sha256 = %hex::encode(fingerprint), "TLS enabled on the HTTP port");
    Ok(Some(Arc::new(config)))
}

/// Names a generated certificate carries: loopback names, the configured
/// site addresses and extra names, and a specific listen address.
fn self_signed_names(cfg: &Config) -> Vec<String> {
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    let listen = cfg.http.listen.ip();
    if !listen.is_unspecified() {
        names.push(listen.to_string());
    }
    names.extend(cfg.handle.site.addresses.iter().cloned());
    names.extend(cfg.http.tls.self_signed_names.iter().cloned());
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| {
        seen.insert(n.parse::<IpAddr>().map(|ip| ip.to_string()).unwrap_or_else(|_| n.to_ascii_lowercase()))
    });
    names
}

/// Writes a new self-signed certificate (ECDSA P-256, valid ~10 years) and
/// its key (mode 0600). Refuses to replace existing files.
pub fn generate_self_signed(cert_path: &Path, key_path: &Path, names: &[String]) -> Result<()> {
    let mut params = rcgen::CertificateParams::new(names.to_vec()).context("certificate names")?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, "idnode self-signed");
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "idnode");
    params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(3650);
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature, rcgen::KeyUsagePurpose::KeyCertSign];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    // A CA flag lets strict verifiers (OpenSSL, rustls) use the certificate
    // itself as the trust anchor a client is told to trust.
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    let key = rcgen::KeyPair::generate().context("generating the TLS key")?;
    let cert = params.self_signed(&key).context("self-signing the TLS certificate")?;
    for p in [cert_path, key_path] {
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
    }
    write_new(key_path, key.serialize_pem().as_bytes(), 0o600)?;
    write_new(cert_path, cert.pem().as_bytes(), 0o644)?;
    Ok(())
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes).with_context(|| format!("writing {}", path.display()))?;
    f.sync_all().with_context(|| format!("syncing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_loads_and_refuses_half_pairs() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config::default();
        cfg.node.data_dir = dir.path().to_owned();
        cfg.http.tls.self_signed_names = vec!["node.example".into(), "127.0.0.1".into()];
        assert!(server_config(&cfg).unwrap().is_some());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(cfg.tls_key_path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // Second start reuses the pair.
        let before = std::fs::read(cfg.tls_cert_path()).unwrap();
        assert!(server_config(&cfg).unwrap().is_some());
        assert_eq!(std::fs::read(cfg.tls_cert_path()).unwrap(), before);
        assert_eq!(self_signed_names(&cfg).iter().filter(|n| *n == "127.0.0.1").count(), 1);
        std::fs::remove_file(cfg.tls_key_path()).unwrap();
        assert!(server_config(&cfg).is_err());
        cfg.http.tls.enabled = false;
        assert!(server_config(&cfg).unwrap().is_none());
    }
}
