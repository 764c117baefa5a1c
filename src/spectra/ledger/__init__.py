"""The double-entry ledger: accounts, transactions, postings, holds, recharges, approvals, codes."""
