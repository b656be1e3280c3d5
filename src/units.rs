//! Numbers as people read them: byte sizes and counts of things. The one place sizes are
//! worded, used by `backup_info.txt` and by [`crate::view`] for the CLI, tray and window.

/// "1 problem", "2 problems": `n` and the noun in the number it takes.
pub fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "1.48 MB" style sizes (decimal units, as file managers show them); "512 B" below 1 kB.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.2} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1_480_000), "1.48 MB");
        assert_eq!(human_bytes(5_368_709_120), "5.37 GB");
    }
}
