"""The electoral roll: who may vote in polls restricted to verified residents.

The roll is imported from a CSV file and kept only as keyed hashes of each person's identity
(HMAC-SHA256 under the roll key); an account is verified against it online or in person.
"""
