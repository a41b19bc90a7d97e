//! sherd's wallet: keys, mnemonics, keystores, addresses, transaction building and the node RPC client.
