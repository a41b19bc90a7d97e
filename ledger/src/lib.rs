//! sherd's ledger: types, canonical transaction codec, state transition and the state store trait.
