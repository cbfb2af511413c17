//! Fetches the GraphiQL and React production bundles that Tally serves itself at
//! `/graphiql/assets/` (src/pages/graphiql.rs embeds them): `npm ci` of the pinned
//! `web/graphiql/package-lock.json` into `OUT_DIR`, so npm checks every package against
//! the lock file's integrity hash, and no third-party code enters the repository's sources.
//! Reruns only when that package.json or lock file changes (or `OUT_DIR` is new). The
//! installed versions reach the code as `TALLY_BUNDLE_VERSION_<PACKAGE>` (the versioned
//! asset paths, and the unpkg.com addresses of `TALLY_GRAPHIQL_CDN`).
use std::{
    env, fs,
    path::{Path, PathBuf},
    process::Command,
};

/// Where the pinned package list lives.
const PACKAGES: &str = "web/graphiql";

/// The packages whose files Tally embeds, and the environment variable that gives the code
/// each one's installed version.
const VERSIONS: [(&str, &str); 3] = [
    ("graphiql", "TALLY_BUNDLE_VERSION_GRAPHIQL"),
    ("react", "TALLY_BUNDLE_VERSION_REACT"),
    ("react-dom", "TALLY_BUNDLE_VERSION_REACT_DOM"),
];

/// The installed files Tally embeds, under `node_modules/`.
const BUNDLES: [&str; 4] = [
    "graphiql/graphiql.min.js",
    "graphiql/graphiql.min.css",
    "react/umd/react.production.min.js",
    "react-dom/umd/react-dom.production.min.js",
];

fn main() {
    for file in ["package.json", "package-lock.json"] {
        println!("cargo:rerun-if-changed={PACKAGES}/{file}");
    }
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("graphiql");
    let installed = install(Path::new(PACKAGES), &out).and_then(|()| versions(&out));
    match installed {
        Ok(versions) => {
            for ((_, variable), version) in VERSIONS.iter().zip(versions) {
                println!("cargo:rustc-env={variable}={version}");
            }
        }
        Err(message) => panic!("\n\n{message}\n\n"),
    }
}

/// The installed version of each package of [`VERSIONS`], as its package.json says (read
/// with node, which npm runs on).
fn versions(out: &Path) -> Result<Vec<String>, String> {
    let names: Vec<String> = VERSIONS
        .iter()
        .map(|(name, _)| format!("'{name}'"))
        .collect();
    let script = format!(
        "[{}].map(p => require('./node_modules/' + p + '/package.json').version).join(' ')",
        names.join(",")
    );
    let output = Command::new("node")
        .args(["-p", &script])
        .current_dir(out)
        .output()
        .map_err(|e| format!("running node to read the installed bundles' versions: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let versions: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
    let plausible = |v: &String| {
        v.chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-+".contains(c))
    };
    if !output.status.success()
        || versions.len() != VERSIONS.len()
        || !versions.iter().all(plausible)
    {
        return Err(format!(
            "reading the installed versions of {names:?} in {} failed: {}{}",
            out.display(),
            text.trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(versions)
}

/// `npm ci` of `packages`' lock file in `out`; every bundle of [`BUNDLES`] present after.
fn install(packages: &Path, out: &Path) -> Result<(), String> {
    fs::create_dir_all(out).map_err(|e| format!("creating {}: {e}", out.display()))?;
    for file in ["package.json", "package-lock.json"] {
        fs::copy(packages.join(file), out.join(file))
            .map_err(|e| format!("copying {}/{file}: {e}", packages.display()))?;
    }
    // Install scripts never run: the packages are data to embed, not tools to execute.
    let status = Command::new("npm")
        .args([
            "ci",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--prefer-offline",
            "--loglevel=error",
        ])
        .current_dir(out)
        .status()
        .map_err(|e| {
            format!(
                "building Tally needs npm (Node.js 18 or later) to install the pinned GraphiQL \
                 and React bundles of {}/package-lock.json, and running `npm` failed: {e}. \
                 Install Node.js with npm (e.g. `apt-get install nodejs npm`) and build again.",
                packages.display()
            )
        })?;
    if !status.success() {
        return Err(format!(
            "`npm ci` of {}/package-lock.json in {} failed ({status}): the npm registry must \
             be reachable (or the packages in npm's cache) to build Tally; see npm's output above.",
            packages.display(),
            out.display()
        ));
    }
    for bundle in BUNDLES {
        let path = out.join("node_modules").join(bundle);
        if !path.is_file() {
            return Err(format!(
                "`npm ci` installed no {}: the pinned packages of {}/package.json must ship it",
                path.display(),
                packages.display()
            ));
        }
    }
    Ok(())
}
