"""Surface: the proxy — protocol adapters, caller auth, admission, selection, streaming, settlement."""
