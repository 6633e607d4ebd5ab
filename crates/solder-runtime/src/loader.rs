//! Reading a config path: one file, or every `*.alloy` file of a directory (not recursive,
//! sorted by name) loaded as one namespace, as `alloy run <dir>` does.

use crate::error::LoadError;
use sha2::{Digest, Sha256};
use solder_syntax::ast;
use solder_syntax::{Diagnostics, SourceMap};
use std::path::{Path, PathBuf};

/// Every file of one load, parsed.
pub struct Sources {
    pub map: SourceMap,
    pub files: Vec<ast::File>,
    /// sha256 over the file contents in name order, as `alloy_config_hash{sha256}` reports.
    pub hash: String,
}

/// The files a config path stands for, in load order.
pub fn config_files(path: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        LoadError::from_message(format!("reading config path {:?}: {e}", path.display()))
    })?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path).map_err(|e| {
        LoadError::from_message(format!("reading config path {:?}: {e}", path.display()))
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| {
            LoadError::from_message(format!("reading config path {:?}: {e}", path.display()))
        })?;
        let p = entry.path();
        let is_alloy = p.extension().is_some_and(|ext| ext == "alloy");
        // Follow symlinks (Kubernetes ConfigMap mounts are symlinks) when deciding "is a file".
        if is_alloy && std::fs::metadata(&p).map(|m| m.is_file()).unwrap_or(false) {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}

/// Read and parse every file; all syntax errors of all files are returned together.
pub fn read_sources(path: &Path) -> Result<Sources, LoadError> {
    let paths = config_files(path)?;
    let mut map = SourceMap::new();
    let mut hasher = Sha256::new();
    let mut texts = Vec::with_capacity(paths.len());
    let mut diags = Diagnostics::new();
    for p in &paths {
        let bytes = std::fs::read(p).map_err(|e| {
            LoadError::from_message(format!("reading config file {:?}: {e}", p.display()))
        })?;
        hasher.update(&bytes);
        // Invalid UTF-8 is a positioned syntax error, not an I/O error: the lossy text is
        // identical up to the first bad byte, which is where the diagnostic points.
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let id = map.add(p.display().to_string(), text.as_str());
        if let Err(d) = solder_syntax::lexer::check_utf8(&bytes, id) {
            diags.push(d);
            continue;
        }
        texts.push((id, text));
    }
    let hash = if paths.is_empty() {
        "0".repeat(64)
    } else {
        hex(&hasher.finalize())
    };
    let mut files = Vec::with_capacity(texts.len());
    for (id, text) in texts {
        let (file, d) = solder_syntax::parser::parse_file(&text, id);
        diags.extend(d);
        files.push(file);
    }
    if diags.has_errors() {
        return Err(LoadError::from_diagnostics(map, diags));
    }
    Ok(Sources { map, files, hash })
}

/// The config hash of whatever is at `path` now, for `alloy_config_hash` after a failed parse
/// (Alloy reports the hash of the files it read even when they do not parse).
pub fn hash_path(path: &Path) -> Option<String> {
    let paths = config_files(path).ok()?;
    if paths.is_empty() {
        return None;
    }
    let mut hasher = Sha256::new();
    for p in &paths {
        hasher.update(std::fs::read(p).ok()?);
    }
    Some(hex(&hasher.finalize()))
}

/// Parse in-memory sources (tests and callers that already hold the text).
pub fn parse_sources(named: &[(&str, &str)]) -> Result<Sources, LoadError> {
    let mut map = SourceMap::new();
    let mut hasher = Sha256::new();
    let mut diags = Diagnostics::new();
    let mut files = Vec::new();
    for (name, text) in named {
        hasher.update(text.as_bytes());
        let id = map.add(*name, *text);
        let (file, d) = solder_syntax::parser::parse_file(text, id);
        diags.extend(d);
        files.push(file);
    }
    if diags.has_errors() {
        return Err(LoadError::from_diagnostics(map, diags));
    }
    Ok(Sources {
        map,
        files,
        hash: hex(&hasher.finalize()),
    })
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_lists_only_alloy_files_sorted() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.alloy", "a.alloy", "c.txt", "d.alloy.bak"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub.alloy")).unwrap();
        let files = config_files(dir.path()).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
            .collect();
        assert_eq!(names, ["a.alloy", "b.alloy"]);
    }

    #[test]
    fn invalid_utf8_is_a_positioned_diagnostic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.alloy");
        std::fs::write(&path, b"a \"x\" {\n  b = \"\xff\"\n}\n").unwrap();
        let Err(err) = read_sources(&path) else {
            panic!("invalid UTF-8 must not load");
        };
        let text = err.render();
        assert!(
            text.contains("config.alloy:2:8: illegal UTF-8 encoding"),
            "{text}"
        );
    }

    #[test]
    fn missing_path_is_an_error() {
        let err = config_files(Path::new("/nonexistent/solder.alloy")).unwrap_err();
        assert!(err.to_string().contains("reading config path"), "{err}");
    }
}
