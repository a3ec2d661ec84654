"""Build of the optional native helpers (everything else is in pyproject.toml).

``lawful_intercept.handover._seal`` links OpenSSL's libcrypto (headers: libssl-dev);
``lawful_intercept.handover._ccitems`` needs only Python's headers. Both are optional: without
a compiler or the headers the build goes on and the package uses its pure-Python paths (same
octets, slower).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "lawful_intercept.handover._seal",
            ["lawful_intercept/handover/_seal.c"],
            libraries=["crypto"],
            optional=True,
        ),
        Extension(
            "lawful_intercept.handover._ccitems",
            ["lawful_intercept/handover/_ccitems.c"],
            optional=True,
        ),
    ]
)
