//! A journal record's payload (a command with its header), as recovery decodes it: never a
//! panic; whatever decodes encodes back to a record that decodes to the same command.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((header, command)) = bulwark_engine::codec::decode_command(data) {
        let mut again = Vec::new();
        bulwark_engine::codec::encode_command_into(&header, &command, &mut again);
        let decoded = bulwark_engine::codec::decode_command(&again);
        assert_eq!(decoded, Ok((header, command)));
    }
});
