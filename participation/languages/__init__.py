"""A reader's choice of language: the header switcher, remembered on the account."""
