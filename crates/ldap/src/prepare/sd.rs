//! Just enough of Windows security descriptors (MS-DTYP 2.4.6, self-relative form) to add an access-allowed
//! ACE to the DACL of an Active Directory object's `nTSecurityDescriptor`, and to tell whether it is there.

use std::fmt;

/// The SD_FLAGS control (LDAP_SERVER_SD_FLAGS_OID): which parts of `nTSecurityDescriptor` to read or write.
pub const SD_FLAGS_OID: &str = "1.2.840.113556.1.4.801";
/// DACL_SECURITY_INFORMATION: only the DACL (a non-owner administrator may read and write it).
pub const DACL_SECURITY_INFORMATION: u32 = 4;

/// ACCESS_ALLOWED_ACE_TYPE.
const ACCESS_ALLOWED: u8 = 0x00;
/// ACCESS_ALLOWED_OBJECT_ACE_TYPE.
const ACCESS_ALLOWED_OBJECT: u8 = 0x05;
/// INHERITED_ACE: the ACE came from a parent; explicit ACEs go before these.
const INHERITED_ACE: u8 = 0x10;
/// ACE_OBJECT_TYPE_PRESENT.
const OBJECT_TYPE_PRESENT: u32 = 0x1;
/// ACL_REVISION_DS: needed once an ACL holds object ACEs.
const ACL_REVISION_DS: u8 = 4;
/// SE_DACL_PRESENT in the descriptor's control field.
const SE_DACL_PRESENT: u16 = 0x0004;

/// Errors reading a security descriptor or a SID.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SdError {
    #[error("the security descriptor is malformed: {0}")]
    Malformed(&'static str),
    #[error("{0:?} is not a GUID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")]
    Guid(String),
}

/// An access-allowed ACE: plain (`object_type` = `None`) or an object ACE for one control access right /
/// property set (`object_type` = the GUID in its wire byte order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ace {
    pub flags: u8,
    pub mask: u32,
    pub object_type: Option<[u8; 16]>,
    pub sid: Vec<u8>,
}

impl Ace {
    fn to_bytes(&self) -> Vec<u8> {
        let mut body = self.mask.to_le_bytes().to_vec();
        let kind = match &self.object_type {
            Some(guid) => {
                body.extend_from_slice(&OBJECT_TYPE_PRESENT.to_le_bytes());
                body.extend_from_slice(guid);
                ACCESS_ALLOWED_OBJECT
            }
            None => ACCESS_ALLOWED,
        };
        body.extend_from_slice(&self.sid);
        let size = (4 + body.len()) as u16;
        let mut out = vec![kind, self.flags];
        out.extend_from_slice(&size.to_le_bytes());
        out.extend(body);
        out
    }

    /// Parses an access-allowed (object) ACE; other ACE types give `None`.
    fn parse(raw: &[u8]) -> Option<Ace> {
        let kind = *raw.first()?;
        let flags = *raw.get(1)?;
        let mask = u32::from_le_bytes(raw.get(4..8)?.try_into().ok()?);
        match kind {
            ACCESS_ALLOWED => Some(Ace { flags, mask, object_type: None, sid: raw.get(8..)?.to_vec() }),
            ACCESS_ALLOWED_OBJECT => {
                let object_flags = u32::from_le_bytes(raw.get(8..12)?.try_into().ok()?);
                let mut at = 12;
                let object_type = if object_flags & OBJECT_TYPE_PRESENT != 0 {
                    let guid: [u8; 16] = raw.get(at..at + 16)?.try_into().ok()?;
                    at += 16;
                    Some(guid)
                } else {
                    None
                };
                if object_flags & 0x2 != 0 {
                    at += 16; // inherited object type
                }
                Some(Ace { flags, mask, object_type, sid: raw.get(at..)?.to_vec() })
            }
            _ => None,
        }
    }
}

/// A self-relative security descriptor, split into its parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityDescriptor {
    revision: u8,
    control: u16,
    owner: Option<Vec<u8>>,
    group: Option<Vec<u8>>,
    sacl: Option<Vec<u8>>,
    dacl_revision: u8,
    /// The DACL's ACEs, raw, in order.
    dacl: Option<Vec<Vec<u8>>>,
}

fn u16_at(b: &[u8], at: usize) -> Result<u16, SdError> {
    b.get(at..at + 2).and_then(|s| s.try_into().ok()).map(u16::from_le_bytes).ok_or(SdError::Malformed("truncated"))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, SdError> {
    b.get(at..at + 4).and_then(|s| s.try_into().ok()).map(u32::from_le_bytes).ok_or(SdError::Malformed("truncated"))
}

fn sid_at(b: &[u8], at: usize) -> Result<Vec<u8>, SdError> {
    let count = *b.get(at + 1).ok_or(SdError::Malformed("truncated SID"))? as usize;
    b.get(at..at + 8 + 4 * count).map(<[u8]>::to_vec).ok_or(SdError::Malformed("truncated SID"))
}

fn acl_at(b: &[u8], at: usize) -> Result<&[u8], SdError> {
    let size = u16_at(b, at + 2)? as usize;
    b.get(at..at + size).ok_or(SdError::Malformed("truncated ACL"))
}

impl SecurityDescriptor {
    pub fn parse(b: &[u8]) -> Result<SecurityDescriptor, SdError> {
        if b.len() < 20 {
            return Err(SdError::Malformed("shorter than its header"));
        }
        let control = u16_at(b, 2)?;
        let offset = |at| u32_at(b, at).map(|o| o as usize);
        let (owner_at, group_at, sacl_at, dacl_at) = (offset(4)?, offset(8)?, offset(12)?, offset(16)?);
        let owner = if owner_at == 0 { None } else { Some(sid_at(b, owner_at)?) };
        let group = if group_at == 0 { None } else { Some(sid_at(b, group_at)?) };
        let sacl = if sacl_at == 0 { None } else { Some(acl_at(b, sacl_at)?.to_vec()) };
        let (dacl_revision, dacl) = if dacl_at == 0 {
            (ACL_REVISION_DS, None)
        } else {
            let acl = acl_at(b, dacl_at)?;
            let count = u16_at(acl, 4)? as usize;
            let mut aces = Vec::with_capacity(count);
            let mut at = 8;
            for _ in 0..count {
                let size = u16_at(acl, at + 2)? as usize;
                if size < 4 {
                    return Err(SdError::Malformed("an ACE with a size under 4"));
                }
                aces.push(acl.get(at..at + size).ok_or(SdError::Malformed("truncated ACE"))?.to_vec());
                at += size;
            }
            (acl[0], Some(aces))
        };
        Ok(SecurityDescriptor { revision: b[0], control, owner, group, sacl, dacl_revision, dacl })
    }

    /// Whether the DACL holds an explicit or inherited allow ACE for `sid` that grants at least `mask` (for the
    /// object type `object_type`, or for all when `None`).
    pub fn allows(&self, sid: &[u8], mask: u32, object_type: Option<&[u8; 16]>) -> bool {
        self.dacl.iter().flatten().filter_map(|raw| Ace::parse(raw)).any(|ace| {
            ace.sid == sid
                && ace.mask & mask == mask
                && (ace.object_type.is_none() || ace.object_type.as_ref() == object_type)
        })
    }

    /// Adds `ace` after the explicit ACEs of the DACL (before the inherited ones), the canonical place for an
    /// explicit allow ACE.
    pub fn add_ace(&mut self, ace: &Ace) {
        let aces = self.dacl.get_or_insert_with(Vec::new);
        let at = aces.iter().position(|a| a.get(1).is_some_and(|f| f & INHERITED_ACE != 0)).unwrap_or(aces.len());
        aces.insert(at, ace.to_bytes());
        if ace.object_type.is_some() {
            self.dacl_revision = self.dacl_revision.max(ACL_REVISION_DS);
        }
        self.control |= SE_DACL_PRESENT;
    }

    /// The self-relative form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![0u8; 20];
        out[0] = self.revision;
        out[2..4].copy_from_slice(&self.control.to_le_bytes());
        let put = |out: &mut Vec<u8>, field: usize, part: &[u8]| {
            let at = out.len() as u32;
            out[field..field + 4].copy_from_slice(&at.to_le_bytes());
            out.extend_from_slice(part);
        };
        if let Some(sacl) = &self.sacl {
            put(&mut out, 12, sacl);
        }
        if let Some(aces) = &self.dacl {
            let size = 8 + aces.iter().map(Vec::len).sum::<usize>();
            let mut acl = vec![self.dacl_revision, 0];
            acl.extend_from_slice(&(size as u16).to_le_bytes());
            acl.extend_from_slice(&(aces.len() as u16).to_le_bytes());
            acl.extend_from_slice(&[0, 0]);
            for a in aces {
                acl.extend_from_slice(a);
            }
            put(&mut out, 16, &acl);
        }
        if let Some(owner) = &self.owner {
            put(&mut out, 4, owner);
        }
        if let Some(group) = &self.group {
            put(&mut out, 8, group);
        }
        out
    }
}

/// A GUID in its wire order (the first three fields little-endian), from `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
pub fn guid_bytes(text: &str) -> Result<[u8; 16], SdError> {
    let bad = || SdError::Guid(text.to_string());
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    let groups: Vec<&str> = text.split('-').collect();
    if hex.len() != 32 || groups.iter().map(|g| g.len()).collect::<Vec<_>>() != [8, 4, 4, 4, 12] {
        return Err(bad());
    }
    let mut b = [0u8; 16];
    for (i, slot) in b.iter_mut().enumerate() {
        *slot = u8::from_str_radix(hex.get(2 * i..2 * i + 2).ok_or_else(bad)?, 16).map_err(|_| bad())?;
    }
    b[0..4].reverse();
    b[4..6].reverse();
    b[6..8].reverse();
    Ok(b)
}

/// A SID in its string form (`S-1-5-21-...`), for messages and `dsacls` / `samba-tool` commands.
pub struct SidText<'a>(pub &'a [u8]);

impl fmt::Display for SidText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        if b.len() < 8 {
            return f.write_str("S-?");
        }
        let authority = b[2..8].iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x));
        write!(f, "S-{}-{authority}", b[0])?;
        for chunk in b[8..].chunks_exact(4) {
            let mut w = [0u8; 4];
            w.copy_from_slice(chunk);
            write!(f, "-{}", u32::from_le_bytes(w))?;
        }
        Ok(())
    }
}

/// The BER value of the SD_FLAGS control: `SEQUENCE { flags INTEGER }`.
pub fn sd_flags_value(flags: u32) -> Vec<u8> {
    crate::ber::sequence(&[crate::ber::integer(i64::from(flags))])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid(sub: &[u32]) -> Vec<u8> {
        let mut b = vec![1, sub.len() as u8, 0, 0, 0, 0, 0, 5];
        for s in sub {
            b.extend_from_slice(&s.to_le_bytes());
        }
        b
    }

    #[test]
    fn guid_in_wire_order() {
        let g = guid_bytes("1131f6aa-9c07-11d1-f79f-00c04fc2dcd2").expect("a valid GUID");
        assert_eq!(g, [0xaa, 0xf6, 0x31, 0x11, 0x07, 0x9c, 0xd1, 0x11, 0xf7, 0x9f, 0x00, 0xc0, 0x4f, 0xc2, 0xdc, 0xd2]);
        assert!(guid_bytes("1131f6aa9c0711d1f79f00c04fc2dcd2").is_err());
        assert!(guid_bytes("zz31f6aa-9c07-11d1-f79f-00c04fc2dcd2").is_err());
    }

    #[test]
    fn sid_text() {
        assert_eq!(SidText(&sid(&[21, 1, 2, 3, 1105])).to_string(), "S-1-5-21-1-2-3-1105");
    }

    #[test]
    fn add_ace_round_trips_and_is_found() {
        let admin = sid(&[32, 544]);
        let user = sid(&[21, 7, 8, 9, 1200]);
        let inherited = Ace { flags: INHERITED_ACE, mask: 0x20094, object_type: None, sid: admin.clone() };
        let explicit = Ace { flags: 0, mask: 0xf01ff, object_type: None, sid: admin.clone() };
        let sd = SecurityDescriptor {
            revision: 1,
            control: 0x8c14,
            owner: Some(admin.clone()),
            group: None,
            sacl: None,
            dacl_revision: 2,
            dacl: Some(vec![explicit.to_bytes(), inherited.to_bytes()]),
        };
        let parsed = SecurityDescriptor::parse(&sd.to_bytes()).expect("own output parses");
        assert_eq!(parsed, sd);
        let guid = guid_bytes("1131f6aa-9c07-11d1-f79f-00c04fc2dcd2").expect("guid");
        assert!(!parsed.allows(&user, 0x100, Some(&guid)));
        let mut changed = parsed.clone();
        changed.add_ace(&Ace { flags: 0, mask: 0x100, object_type: Some(guid), sid: user.clone() });
        let again = SecurityDescriptor::parse(&changed.to_bytes()).expect("parses");
        assert!(again.allows(&user, 0x100, Some(&guid)));
        assert!(!again.allows(&user, 0x10, None));
        assert_eq!(again.dacl_revision, ACL_REVISION_DS);
        let aces = again.dacl.as_ref().expect("dacl");
        assert_eq!(aces.len(), 3);
        // explicit, new, inherited
        assert_eq!(aces[1][0], ACCESS_ALLOWED_OBJECT);
        assert_eq!(aces[2], inherited.to_bytes());
    }

    #[test]
    fn malformed_is_an_error() {
        assert!(SecurityDescriptor::parse(&[1, 0, 4]).is_err());
        let mut b = vec![1, 0, 4, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0];
        b.extend_from_slice(&[2, 0, 200, 0, 1, 0, 0, 0]);
        assert!(SecurityDescriptor::parse(&b).is_err());
    }
}
