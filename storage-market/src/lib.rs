//! sherd's storage market: the provider service and the client's put, get and repair logic.
