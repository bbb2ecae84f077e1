//! bcrypt verification, the sign-in's whole cost, through the system's libxcrypt (`crypt_rn`,
//! Openwall's crypt_blowfish) when the process can load `libcrypt.so.1`, and through the `bcrypt`
//! crate otherwise. Both compute the same function; the C one does about 15% more verifications a
//! second on the same machine (bench/README.md), which is the gap between sign-ins and the
//! machine's bcrypt rate. Hashes are still made by the `bcrypt` crate: that is the rare path.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::OnceLock;
use subtle::ConstantTimeEq;

/// `char *crypt_rn(const char *phrase, const char *setting, void *data, int size)` from <crypt.h>.
type CryptRn =
    unsafe extern "C" fn(*const c_char, *const c_char, *mut c_void, c_int) -> *mut c_char;

/// `sizeof (struct crypt_data)`: libxcrypt sizes its fields to add up to exactly this.
const DATA_SIZE: usize = 32768;

/// The scratch area `crypt_rn` works in; one per hashing thread, zeroed once as libxcrypt asks.
#[repr(C, align(16))]
struct CryptData([u8; DATA_SIZE]);

struct Libcrypt {
    crypt_rn: CryptRn,
    /// Keeps the library mapped for as long as `crypt_rn` may be called (the process).
    _lib: libloading::Library,
}

fn libcrypt() -> Option<&'static Libcrypt> {
    static LIB: OnceLock<Option<Libcrypt>> = OnceLock::new();
    LIB.get_or_init(|| {
        // SAFETY: libcrypt has no initialisers with preconditions, and `crypt_rn` has the C
        // signature declared above (libxcrypt's public ABI, stable since 4.0).
        unsafe {
            let lib = libloading::Library::new("libcrypt.so.1").ok()?;
            let crypt_rn = *lib.get::<CryptRn>(b"crypt_rn\0").ok()?;
            Some(Libcrypt {
                crypt_rn,
                _lib: lib,
            })
        }
    })
    .as_ref()
}

thread_local! {
    static SCRATCH: RefCell<Box<CryptData>> = RefCell::new(Box::new(CryptData([0; DATA_SIZE])));
}

/// Which implementation verifies on this machine: "libxcrypt" or "bcrypt-crate".
pub fn backend() -> &'static str {
    if libcrypt().is_some() {
        "libxcrypt"
    } else {
        "bcrypt-crate"
    }
}

/// Whether `password` matches the bcrypt `hash` (`$2a$`, `$2b$` or `$2y$`). Anything else,
/// including the other schemes libcrypt knows (MD5, DES...), matches nothing.
pub fn verify(password: &str, hash: &str) -> bool {
    if !is_bcrypt(hash) {
        return false;
    }
    match (libcrypt(), CString::new(password)) {
        (Some(lib), Ok(phrase)) => verify_with(lib, &phrase, hash),
        // No libcrypt, or a NUL in the password (C would stop reading there): the crate.
        _ => bcrypt::verify(password, hash).unwrap_or(false),
    }
}

fn verify_with(lib: &Libcrypt, phrase: &CStr, hash: &str) -> bool {
    let Ok(setting) = CString::new(hash) else {
        return false;
    };
    SCRATCH.with(|scratch| {
        let mut data = scratch.borrow_mut();
        // SAFETY: both strings are NUL-terminated; `data` is a zero-initialised, exclusively
        // borrowed block of DATA_SIZE bytes; the returned pointer points into `data` and is read
        // before the borrow ends.
        unsafe {
            let out = (lib.crypt_rn)(
                phrase.as_ptr(),
                setting.as_ptr(),
                data.0.as_mut_ptr().cast(),
                DATA_SIZE as c_int,
            );
            if out.is_null() {
                return false;
            }
            let out = CStr::from_ptr(out).to_bytes();
            // A failure is a short string starting with '*', which never equals a bcrypt hash.
            out.len() == hash.len() && bool::from(out.ct_eq(hash.as_bytes()))
        }
    })
}

/// `$2a$`/`$2b$`/`$2y$`, a two-digit cost, then 53 characters of bcrypt's base64.
pub(crate) fn is_bcrypt(hash: &str) -> bool {
    let b = hash.as_bytes();
    b.len() == 60
        && b[0] == b'$'
        && b[1] == b'2'
        && matches!(b[2], b'a' | b'b' | b'y')
        && b[3] == b'$'
        && b[4].is_ascii_digit()
        && b[5].is_ascii_digit()
        && b[6] == b'$'
        && b[7..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes(password: &str) -> Vec<String> {
        let h = bcrypt::hash(password, 4).unwrap();
        // The same hash under the other prefixes tiledesk-server and PHP write.
        vec![
            h.clone(),
            h.replacen("$2b$", "$2a$", 1),
            h.replacen("$2b$", "$2y$", 1),
        ]
    }

    #[test]
    fn agrees_with_the_bcrypt_crate_on_every_prefix() {
        for pw in ["correct horse", "ünïcödé ✓", "x", &"a".repeat(72)] {
            for h in hashes(pw) {
                assert!(verify(pw, &h), "{h}");
                assert!(bcrypt::verify(pw, &h).unwrap());
                assert!(!verify("wrong", &h));
                assert!(!verify(&format!("{pw}!"), &h) || pw.len() >= 72);
            }
        }
    }

    #[test]
    fn the_system_library_is_used_where_the_system_has_it() {
        let has_lib = [
            "/usr/lib/x86_64-linux-gnu/libcrypt.so.1",
            "/lib64/libcrypt.so.1",
        ]
        .iter()
        .any(|p| std::path::Path::new(p).exists());
        if has_lib {
            assert_eq!(backend(), "libxcrypt");
        }
    }

    #[test]
    fn malformed_and_other_schemes_match_nothing() {
        let good = bcrypt::hash("pw", 4).unwrap();
        for bad in [
            String::new(),
            "*0".into(),
            good.replacen("$2b$", "$2x$", 1),
            good[..59].to_owned(),
            format!("{good}x"),
            good.replacen("$04$", "$4$", 1),
            // MD5-crypt and traditional DES, which libcrypt would happily check.
            "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/".into(),
            "ab01FAX.bQRSU".into(),
        ] {
            assert!(!verify("pw", &bad), "{bad}");
        }
    }

    #[test]
    fn a_nul_in_the_password_is_not_a_shorter_password() {
        let h = bcrypt::hash("abc", 4).unwrap();
        assert!(!verify("abc\0def", &h));
    }
}
