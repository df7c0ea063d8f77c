"""Build a Thunderbird profile that syncs one IMAP account from Crispin without any prompt.

Everything Thunderbird needs is written into a fresh profile folder before it starts:

``user.js``
    The account (IMAP server, port, connection security, user name, offline download of every
    folder, CONDSTORE), a Local Folders account (so the account hub does not open), and every
    preference that would make Thunderbird reach the internet switched off (updates,
    telemetry, add-on and remote-settings fetches, safe browsing, OCSP/CRLite, captive portal,
    connectivity checks, account autoconfig/ISPDB, the start page, in-app notifications,
    calendar/chat/feeds, DNS prefetch). As a second line of defence every HTTP(S) request
    is sent to a proxy on a loopback port that nothing listens on, so a fetch that a
    preference missed fails locally instead of leaving the machine.

``key4.db`` + ``logins.json``
    The password, stored as Thunderbird's login manager stores it: origin and httpRealm
    ``imap://HOST`` with the user name, both encrypted with ``PK11SDR_Encrypt`` under the
    profile's NSS key (no primary password). The key database is created, and the strings
    encrypted, by *Thunderbird's own* NSS (``/usr/lib/thunderbird/libnss3.so``, through
    ``ctypes``, in a child process with a timeout) so the format is the one that version reads.
    No ``certutil``/``pwencrypt`` is needed.

``cert_override.txt``
    The server's self-signed certificate accepted as a permanent exception, keyed by
    ``host:port:`` (the trailing field is the empty origin-attributes suffix) with its SHA-256
    fingerprint, exactly as Thunderbird writes the file itself after "Confirm Security
    Exception".

Run as ``python -m tests.interop.thunderbird_profile sdr PROFILE`` with a JSON list of strings
on stdin, it prints the list encrypted (base64) — that is the child process used above.
"""

from __future__ import annotations

import base64
import ctypes
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

THUNDERBIRD_LIB = Path("/usr/lib/thunderbird")
SHA256_OID = "OID.2.16.840.1.101.3.4.2.1"

# socketType values of mail.server.serverN.socketType (nsMsgSocketType: 1 was "try
# STARTTLS", removed; 2 is "always STARTTLS", 3 is TLS from the first byte)
PLAIN, STARTTLS, TLS = 0, 2, 3

# A loopback port nothing listens on (the discard service): any HTTP(S) request that some
# preference below failed to switch off goes there and fails at once.
DEAD_PROXY_PORT = 9


@dataclass(frozen=True)
class Account:
    host: str            # as Thunderbird connects to it, e.g. "127.0.0.1" or "localhost"
    port: int
    socket_type: int     # PLAIN, STARTTLS or TLS
    user: str
    password: str
    email: str = "alice@example.org"


# -- preferences -------------------------------------------------------------------------------

def _offline_prefs() -> dict[str, object]:
    """Preferences that keep Thunderbird from talking to anything but the IMAP server."""
    return {
        # updates, of the application, add-ons, system add-ons, language packs
        "app.update.enabled": False,
        "app.update.auto": False,
        "app.update.service.enabled": False,
        "app.update.staging.enabled": False,
        "app.update.checkInstallTime": False,
        "app.update.langpack.enabled": False,
        "app.update.url": "",
        "app.update.url.manual": "",
        "app.update.url.details": "",
        "app.releaseNotesURL": "",
        "extensions.update.enabled": False,
        "extensions.update.autoUpdateDefault": False,
        "extensions.update.url": "",
        "extensions.update.background.url": "",
        "extensions.systemAddon.update.enabled": False,
        "extensions.systemAddon.update.url": "",
        "extensions.getAddons.cache.enabled": False,
        "extensions.getAddons.get.url": "",
        "extensions.getAddons.search.url": "",
        "extensions.getAddons.discovery.api_url": "",
        "extensions.getAddons.recommended.url": "",
        "extensions.getAddons.langpacks.url": "",
        "extensions.getAddons.compatOverides.url": "",
        "extensions.webservice.discoverURL": "",
        "extensions.blocklist.enabled": False,
        "extensions.blocklist.detailsURL": "",
        "extensions.blocklist.itemURL": "",
        "extensions.blocklist.addonItemURL": "",
        "extensions.autoDisableScopes": 15,
        "extensions.enabledScopes": 5,
        "extensions.abuseReport.enabled": False,
        "media.gmp-manager.url": "",
        "media.gmp-manager.updateEnabled": False,
        "media.gmp-gmpopenh264.enabled": False,
        "media.gmp-gmpopenh264.autoupdate": False,
        "media.gmp-widevinecdm.enabled": False,
        "browser.dictionaries.download.url": "",
        "spellchecker.dictionaries.download.url": "",
        "browser.ml.enable": False,
        "browser.ml.modelHubRootUrl": "",
        # telemetry, health report, Glean, crash reports
        "toolkit.telemetry.enabled": False,
        "toolkit.telemetry.unified": False,
        "toolkit.telemetry.archive.enabled": False,
        "toolkit.telemetry.server": "",
        "toolkit.telemetry.newProfilePing.enabled": False,
        "toolkit.telemetry.shutdownPingSender.enabled": False,
        "toolkit.telemetry.updatePing.enabled": False,
        "toolkit.telemetry.bhrPing.enabled": False,
        "toolkit.telemetry.firstShutdownPing.enabled": False,
        "toolkit.telemetry.dap.helper.url": "",
        "toolkit.telemetry.dap.leader.url": "",
        "datareporting.healthreport.uploadEnabled": False,
        "datareporting.policy.dataSubmissionEnabled": False,
        "datareporting.policy.dataSubmissionPolicyBypassNotification": True,
        "datareporting.usage.uploadEnabled": False,
        "app.normandy.enabled": False,
        "app.normandy.api_url": "",
        "app.shield.optoutstudies.enabled": False,
        "breakpad.reportURL": "",
        "browser.crashReports.unsubmittedCheck.autoSubmit2": False,
        "browser.tabs.crashReporting.sendReport": False,
        # remote settings (blocklists, CRLite, intermediates, ...)
        "services.settings.server": "",
        "services.settings.poll_interval": 0x7FFFFFFF,
        "security.remote_settings.crlite_filters.enabled": False,
        "security.remote_settings.intermediates.enabled": False,
        "security.certerrors.mitm.priming.enabled": False,
        # safe browsing
        "browser.safebrowsing.malware.enabled": False,
        "browser.safebrowsing.phishing.enabled": False,
        "browser.safebrowsing.downloads.enabled": False,
        "browser.safebrowsing.downloads.remote.enabled": False,
        "browser.safebrowsing.downloads.remote.url": "",
        "browser.safebrowsing.blockedURIs.enabled": False,
        "browser.safebrowsing.provider.google.updateURL": "",
        "browser.safebrowsing.provider.google.gethashURL": "",
        "browser.safebrowsing.provider.google4.updateURL": "",
        "browser.safebrowsing.provider.google4.gethashURL": "",
        "browser.safebrowsing.provider.google5.updateURL": "",
        "browser.safebrowsing.provider.google5.gethashURL": "",
        "browser.safebrowsing.provider.mozilla.updateURL": "",
        "browser.safebrowsing.provider.mozilla.gethashURL": "",
        # OCSP and other certificate checks that fetch
        "security.OCSP.enabled": 0,
        "security.OCSP.require": False,
        "security.ssl.enable_ocsp_stapling": False,
        "security.pki.crlite_mode": 0,
        # captive portal, connectivity service, DoH, region lookup, prefetching
        "network.captive-portal-service.enabled": False,
        "captivedetect.canonicalURL": "",
        "network.connectivity-service.enabled": False,
        "network.connectivity-service.IPv4.url": "",
        "network.connectivity-service.IPv6.url": "",
        "network.trr.mode": 5,
        "doh-rollout.enabled": False,
        "browser.region.network.url": "",
        "browser.region.update.enabled": False,
        "network.dns.disablePrefetch": True,
        "network.prefetch-next": False,
        "network.predictor.enabled": False,
        "network.http.speculative-parallel-limit": 0,
        "network.proxy.type": 1,
        "network.proxy.http": "127.0.0.1",
        "network.proxy.http_port": DEAD_PROXY_PORT,
        "network.proxy.ssl": "127.0.0.1",
        "network.proxy.ssl_port": DEAD_PROXY_PORT,
        "network.proxy.share_proxy_settings": False,
        "network.proxy.socks": "",
        "network.proxy.no_proxies_on": "",
        "network.proxy.allow_hijacking_localhost": True,
        # account setup: no autoconfig / ISPDB / Exchange / guessing, no provisioner
        "mailnews.auto_config_url": "",
        "mailnews.auto_config.addons_url": "",
        "mailnews.auto_config.fetchFromISP.enabled": False,
        "mailnews.auto_config.fetchFromISP.sendEmailAddress": False,
        "mailnews.auto_config.fetchFromExchange.enabled": False,
        "mailnews.auto_config.guess.enabled": False,
        "mail.provider.enabled": False,
        "mail.provider.providerList": "",
        "mail.provider.suggestFromName": "",
        # start page, what's new, donation appeal, default-client check, in-app notifications
        "mailnews.start_page.enabled": False,
        "mailnews.start_page.url": "",
        "mailnews.start_page.override_url": "",
        "mailnews.start_page_override.mstone": "ignore",
        "mail.shell.checkDefaultClient": False,
        "mail.rights.version": 1,
        "app.donation.eoy.version.viewed": 999,
        "mail.inappnotifications.enabled": False,
        "mail.inappnotifications.url": "",
        "mail.cloud_files.enabled": False,
        "mail.openpgp.keyserver_list": "",
        "messenger.startup.action": 0,
        # calendar, chat, feeds, address-book directories
        "calendar.integration.notify": False,
        "calendar.timezone.useSystemTimezone": True,
        "calendar.registry.calendar-main-default.disabled": True,
        "mail.chat.enabled": False,
        "messenger.startup.autoLogin": 0,
        "rss.enabled": False,
        "ldap_2.autoComplete.useDirectory": False,
        # misc: no remote images in mail, no web content
        "mailnews.message_display.disable_remote_image": True,
        "webextensions.storage.sync.serverURL": "",
        "signon.firefoxRelay.feature": "disabled",
        "signon.management.page.breach-alerts.enabled": False,
        "signon.rememberSignons": True,
        "signon.autofillForms": False,
        # no interactive distractions in an automated run
        "mail.biff.show_alert": False,
        "mail.biff.play_sound": False,
        "mail.biff.show_tray_icon": False,
        "mail.biff.use_system_alert": False,
        "mail.tabs.drawInTitlebar": False,
        "browser.tabs.remote.autostart": False,
        "browser.dom.window.dump.enabled": True,
        "toolkit.startup.max_resumed_crashes": -1,
        "browser.startup.homepage_override.mstone": "ignore",
        "mail.ui.show.migration.wizard": False,
        "mail.spotlight.firstRunDone": True,
        "mail.winsearch.firstRunDone": True,
        "mail.taskbar.enabled": False,
        "gfx.webrender.software": True,
    }


def _account_prefs(account: Account, imap_dir: Path, local_dir: Path) -> dict[str, object]:
    s = "mail.server.server1."
    prefs: dict[str, object] = {
        "mail.accountmanager.accounts": "account1,account2",
        "mail.accountmanager.defaultaccount": "account1",
        "mail.accountmanager.localfoldersserver": "server2",
        "mail.account.account1.server": "server1",
        "mail.account.account1.identities": "id1",
        "mail.account.account2.server": "server2",
        "mail.account.lastKey": 2,
        "mail.identity.id1.fullName": "Alice Example",
        "mail.identity.id1.useremail": account.email,
        "mail.identity.id1.valid": True,
        "mail.identity.id1.draft_folder": f"imap://{account.user}@{account.host}/Drafts",
        "mail.identity.id1.fcc_folder": f"imap://{account.user}@{account.host}/Sent",
        "mail.identity.id1.archive_folder": f"imap://{account.user}@{account.host}/Archive",
        s + "type": "imap",
        s + "hostname": account.host,
        s + "realhostname": account.host,
        s + "port": account.port,
        s + "userName": account.user,
        s + "realuserName": account.user,
        s + "name": "Crispin",
        s + "socketType": account.socket_type,
        s + "authMethod": 3,            # normal password (AUTHENTICATE PLAIN / LOGIN)
        s + "directory": str(imap_dir),
        s + "login_at_startup": True,
        s + "check_new_mail": True,
        s + "check_time": 1,
        s + "use_idle": True,
        s + "use_condstore": True,
        s + "use_compress_deflate": True,
        s + "offline_download": True,   # "keep messages for this account on this computer"
        s + "autosync_offline_stores": True,
        s + "autosync_max_age_days": -1,
        s + "limit_offline_message_size": False,
        s + "using_subscription": True,
        s + "check_all_folders_for_new": True,
        s + "storeContractID": "@mozilla.org/msgstore/berkeleystore;1",
        s + "trash_folder_name": "Trash",
        s + "spamActionTargetAccount": "",
        s + "moveOnSpam": False,
        s + "max_cached_connections": 5,
        "mail.server.server2.type": "none",
        "mail.server.server2.hostname": "Local Folders",
        "mail.server.server2.userName": "nobody",
        "mail.server.server2.name": "Local Folders",
        "mail.server.server2.directory": str(local_dir),
        "mail.server.server2.storeContractID": "@mozilla.org/msgstore/berkeleystore;1",
        # download bodies right away (autosync runs whenever Thunderbird is idle, and under
        # Xvfb nobody touches the keyboard)
        "mail.imap.use_disk_cache2": True,
        "mail.imap.chunk_size": 1048576,
        "mail.server.default.fetch_by_chunks": True,
        "mail.server.default.autosync_offline_stores": True,
        "mail.server.default.offline_download": True,
        "mail.server.default.use_condstore": True,
        "mail.autosync.max_messages_per_download": 50,
        "mail.check_all_imap_folders_for_new": True,
        "mail.server.default.check_all_folders_for_new": True,
        "mail.biff.on_new_window": False,
        "mail.smtpservers": "",
        "mail.startup.enabledMailCheckOnce": True,
        "offline.autoDetect": False,
        "offline.startup_state": 0,
        "offline.download.download_messages": 1,
        "mail.server.default.send_client_info": True,
    }
    return prefs


def _js_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))


def write_user_js(profile: Path, account: Account) -> None:
    imap_dir = profile / "ImapMail" / account.host
    local_dir = profile / "Mail" / "Local Folders"
    imap_dir.mkdir(parents=True, exist_ok=True)
    local_dir.mkdir(parents=True, exist_ok=True)
    prefs = {**_offline_prefs(), **_account_prefs(account, imap_dir, local_dir)}
    lines = ["// written by tests/interop/thunderbird_profile.py"]
    lines += [f"user_pref({json.dumps(k)}, {_js_value(v)});" for k, v in prefs.items()]
    (profile / "user.js").write_text("\n".join(lines) + "\n")


# -- the password: key4.db + logins.json ------------------------------------------------------

class _SECItem(ctypes.Structure):
    _fields_ = [("type", ctypes.c_uint), ("data", ctypes.POINTER(ctypes.c_ubyte)),
                ("len", ctypes.c_uint)]


def _load_nss(libdir: Path) -> ctypes.CDLL:
    # libnss3 of Thunderbird wants the libnssutil3 next to it, not the system's older one.
    for dep in ("libnspr4.so", "libplc4.so", "libplds4.so", "libnssutil3.so"):
        if (libdir / dep).exists():
            ctypes.CDLL(str(libdir / dep), mode=ctypes.RTLD_GLOBAL)
    nss = ctypes.CDLL(str(libdir / "libnss3.so"), mode=ctypes.RTLD_GLOBAL)
    nss.NSS_InitReadWrite.argtypes = [ctypes.c_char_p]
    nss.PK11_GetInternalKeySlot.restype = ctypes.c_void_p
    nss.PK11_NeedUserInit.argtypes = [ctypes.c_void_p]
    nss.PK11_InitPin.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    nss.PK11_Authenticate.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    nss.PK11_FreeSlot.argtypes = [ctypes.c_void_p]
    nss.PK11SDR_Encrypt.argtypes = [ctypes.POINTER(_SECItem)] * 3 + [ctypes.c_void_p]
    nss.PK11SDR_Decrypt.argtypes = [ctypes.POINTER(_SECItem), ctypes.POINTER(_SECItem),
                                    ctypes.c_void_p]
    nss.SECITEM_ZfreeItem.argtypes = [ctypes.POINTER(_SECItem), ctypes.c_int]
    nss.PORT_GetError.restype = ctypes.c_int
    return nss


def _sdr_main(profile: str, plaintexts: list[str]) -> list[str]:
    """In a child process: create the profile's key4.db (empty password) and encrypt."""
    libdir = Path(os.environ.get("CRISPIN_TB_NSS_DIR", str(THUNDERBIRD_LIB)))
    nss = _load_nss(libdir)
    if nss.NSS_InitReadWrite(f"sql:{profile}".encode()) != 0:
        raise SystemExit(f"NSS_InitReadWrite failed: {nss.PORT_GetError()}")
    slot = nss.PK11_GetInternalKeySlot()
    if nss.PK11_NeedUserInit(slot) and nss.PK11_InitPin(slot, b"", b"") != 0:
        raise SystemExit(f"PK11_InitPin failed: {nss.PORT_GetError()}")
    if nss.PK11_Authenticate(slot, 1, None) != 0:
        raise SystemExit(f"PK11_Authenticate failed: {nss.PORT_GetError()}")
    out = []
    for text in plaintexts:
        raw = text.encode()
        buf = (ctypes.c_ubyte * len(raw)).from_buffer_copy(raw)
        data = _SECItem(0, buf, len(raw))
        keyid = _SECItem(0, None, 0)        # the default SDR key (created on first use)
        enc = _SECItem(0, None, 0)
        if nss.PK11SDR_Encrypt(ctypes.byref(keyid), ctypes.byref(data), ctypes.byref(enc),
                               None) != 0:
            raise SystemExit(f"PK11SDR_Encrypt failed: {nss.PORT_GetError()}")
        blob = ctypes.string_at(enc.data, enc.len)
        dec = _SECItem(0, None, 0)          # round trip, so a broken key is caught here
        if nss.PK11SDR_Decrypt(ctypes.byref(enc), ctypes.byref(dec), None) != 0 \
                or ctypes.string_at(dec.data, dec.len) != raw:
            raise SystemExit("PK11SDR_Decrypt round trip failed")
        nss.SECITEM_ZfreeItem(ctypes.byref(enc), 0)
        nss.SECITEM_ZfreeItem(ctypes.byref(dec), 0)
        out.append(base64.b64encode(blob).decode())
    nss.PK11_FreeSlot(slot)
    nss.NSS_Shutdown()
    return out


def sdr_encrypt(profile: Path, plaintexts: list[str], timeout: float = 30) -> list[str]:
    """Encrypt strings with the profile's NSS key (creating key4.db), in a child process."""
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run([sys.executable, "-m", "tests.interop.thunderbird_profile", "sdr",
                        str(profile)], input=json.dumps(plaintexts), capture_output=True,
                       text=True, timeout=timeout, cwd=root,
                       env={**os.environ, "LD_LIBRARY_PATH": str(THUNDERBIRD_LIB)})
    if r.returncode != 0:
        raise RuntimeError(f"NSS helper failed ({r.returncode}): {r.stderr}")
    result = json.loads(r.stdout)
    assert isinstance(result, list) and len(result) == len(plaintexts)
    return result


def write_logins(profile: Path, account: Account) -> None:
    enc_user, enc_password = sdr_encrypt(profile, [account.user, account.password])
    origin = f"imap://{account.host}"
    now = int(time.time() * 1000)
    login = {
        "id": 1, "hostname": origin, "httpRealm": origin, "formSubmitURL": None,
        "usernameField": "", "passwordField": "",
        "encryptedUsername": enc_user, "encryptedPassword": enc_password,
        "guid": "{" + str(uuid.uuid4()) + "}", "encType": 1,
        "timeCreated": now, "timeLastUsed": now, "timePasswordChanged": now, "timesUsed": 1,
        "syncCounter": 0, "everSynced": False, "encryptedUnknownFields": None,
    }
    (profile / "logins.json").write_text(json.dumps({
        "nextId": 2, "logins": [login], "potentiallyVulnerablePasswords": [],
        "dismissedBreachAlertsByLoginGUID": {}, "version": 3}))


# -- the certificate: cert_override.txt -------------------------------------------------------

def cert_fingerprint(cert_pem: bytes) -> str:
    """SHA-256 of the DER certificate as ``AB:CD:…`` (what Thunderbird stores)."""
    b64 = re.search(rb"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", cert_pem,
                    re.S)
    assert b64, "no PEM certificate"
    der = base64.b64decode(b"".join(b64.group(1).split()))
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def write_cert_override(profile: Path, cert_pem: bytes, hosts_ports: list[tuple[str, int]]
                        ) -> None:
    fp = cert_fingerprint(cert_pem)
    lines = ["# PSM Certificate Override Settings file",
             "# This is a generated file!  Do not edit."]
    lines += [f"{host}:{port}:\t{SHA256_OID}\t{fp}\t" for host, port in hosts_ports]
    (profile / "cert_override.txt").write_text("\n".join(lines) + "\n")


# -- all together -----------------------------------------------------------------------------

def build_profile(profile: Path, account: Account, cert_pem: bytes | None) -> Path:
    """Create (or complete) a profile folder for ``account``; returns it."""
    profile.mkdir(parents=True, exist_ok=True)
    write_user_js(profile, account)
    if not (profile / "logins.json").exists():
        write_logins(profile, account)
    if cert_pem is not None:
        write_cert_override(profile, cert_pem, [(account.host, account.port)])
    return profile


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "sdr":
        print(json.dumps(_sdr_main(sys.argv[2], json.loads(sys.stdin.read()))))
    else:
        raise SystemExit("usage: python -m tests.interop.thunderbird_profile sdr PROFILE "
                         "< json-list")
