#!/bin/sh
# install-node.sh - Node.js and npm from the npm registry into /usr/local, for the images' build
# stages (Debian 12's nodejs is 18; the bridge, Baileys and the simulator need 20). Each tarball
# is checked against the sha512 the registry publishes for it. The one place the versions are
# pinned: every Dockerfile that needs Node runs this.
set -eu
NODE_VERSION=20.20.2
NODE_SHA512_AMD64=3de1d033cc007661ed640d66068732819c6ce4b8945adb097b3413901774898f7cecaa46ac3d4edad544c9dbcc662b9771e45a9f1b7bae34e70c407038fba3a1
NODE_SHA512_ARM64=2c25c99cd4c58b21ae601c36819488e4e04531b92300fb7cb2a0ff34aad6a04d90983812b9b4ea16783a19a349f4427c1e9c413067165a96db72ce15a3e0a71a
NPM_VERSION=10.8.2
NPM_SHA512=c7f0088c520a46596b85c6f8f1da943400199748a0f7ea8cb8df75469668dc26f6fb3ba26df87e2884a5ebe91557292d0f3db7d0929cdb4f14910c3032ac81fb

apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl ca-certificates
rm -rf /var/lib/apt/lists/*
# Extra CA certificates copied in for the build stage only (deploy/build-ca/README.md); npm and
# node read them through NODE_EXTRA_CA_CERTS.
update-ca-certificates >/dev/null
case $(dpkg --print-architecture) in
    amd64) arch=x64 sum=$NODE_SHA512_AMD64 ;;
    arm64) arch=arm64 sum=$NODE_SHA512_ARM64 ;;
    *) echo "no Node.js build is pinned for $(dpkg --print-architecture)" >&2; exit 1 ;;
esac
curl -fsSL -o /tmp/node.tgz "https://registry.npmjs.org/node-linux-$arch/-/node-linux-$arch-$NODE_VERSION.tgz"
echo "$sum  /tmp/node.tgz" | sha512sum -c --quiet -
tar -xzf /tmp/node.tgz -C /usr/local --strip-components=1 package/bin/node
curl -fsSL -o /tmp/npm.tgz "https://registry.npmjs.org/npm/-/npm-$NPM_VERSION.tgz"
echo "$NPM_SHA512  /tmp/npm.tgz" | sha512sum -c --quiet -
mkdir -p /usr/local/lib/node_modules/npm
tar -xzf /tmp/npm.tgz -C /usr/local/lib/node_modules/npm --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
rm /tmp/node.tgz /tmp/npm.tgz
node --version
npm --version
