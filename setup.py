"""Build of the optional native helper (everything else is in pyproject.toml).

``lawful_intercept.handover._seal`` links OpenSSL's libcrypto (headers: libssl-dev). It is
optional: without a compiler or the headers the build goes on and the package uses its
pure-Python EncryptionContainer path (same octets, slower).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "lawful_intercept.handover._seal",
            ["lawful_intercept/handover/_seal.c"],
            libraries=["crypto"],
            optional=True,
        )
    ]
)
