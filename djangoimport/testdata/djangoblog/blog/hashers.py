"""Django's argon2 and bcrypt_sha256 hashers at lower costs: the hashes are
the same formats, but Django's defaults (100 MiB and 12 rounds) take
seconds to check on a busy test machine."""
from django.contrib.auth.hashers import Argon2PasswordHasher, BCryptSHA256PasswordHasher


class CheapArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 1
    memory_cost = 1024
    parallelism = 2


class CheapBCryptSHA256PasswordHasher(BCryptSHA256PasswordHasher):
    rounds = 4
