//! A minimal BER encoder for the values of the controls ferrosync builds itself (DirSync, SD flags).

fn with_length(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// An INTEGER, in the fewest two's-complement bytes.
pub fn integer(v: i64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    with_length(0x02, &bytes[start..])
}

pub fn octet_string(v: &[u8]) -> Vec<u8> {
    with_length(0x04, v)
}

pub fn sequence(items: &[Vec<u8>]) -> Vec<u8> {
    with_length(0x30, &items.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_minimal() {
        assert_eq!(integer(0), [2, 1, 0]);
        assert_eq!(integer(4), [2, 1, 4]);
        assert_eq!(integer(128), [2, 2, 0, 128]);
        assert_eq!(integer(1_048_576), [2, 3, 0x10, 0, 0]);
        assert_eq!(integer(-1), [2, 1, 0xff]);
    }

    #[test]
    fn long_lengths() {
        let v = octet_string(&[7u8; 300]);
        assert_eq!(&v[..4], &[4, 0x82, 1, 44]);
        assert_eq!(sequence(&[integer(4)]), [0x30, 3, 2, 1, 4]);
    }
}
