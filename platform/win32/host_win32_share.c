/* host_win32_share.c - the share table of the host backend `local`
 * (host.h pm_share_ops) on NetShareEnum / NetShareGetInfo / NetShareAdd /
 * NetShareDel at level 502, reached through a pmw_share_api table so that
 * a test can put its own in their place (Wine implements none of them:
 * NetShareGetInfo and NetShareEnum fail with 50 or 2310, NetShareDel
 * succeeds and does nothing).
 *
 * The security descriptor is carried as its self-relative bytes, written
 * "hex:0100..." in pm_share_info.sddl: NT 4.0 has no SDDL, and bytes are
 * what NetShareAdd is given back, exactly as NetShareGetInfo gave them.
 * SDDL text is still accepted for a share pomove makes itself (check
 * --repair's default) where Windows 2000's conversion exists. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>
#include <lm.h>

#include "host_win32.h"
#include "util.h"
#include "win32.h"

const pmw_share_api pmw_share_netapi = {
    NetShareGetInfo, NetShareAdd,      NetShareDel,
    NetShareEnum,    NetApiBufferFree, "NetShare* (the Server service)"};

static const pmw_share_api *api_of(pm_host *h) {
  pmw_host *c = h->ctx;
  return c->shares ? c->shares : &pmw_share_netapi;
}

void pmw_host_set_share_api(pm_host *h, const pmw_share_api *api) {
  pmw_host *c = h->ctx;
  c->shares = api;
}

/* ---- Security descriptors as text ---- */

int pmw_sd_format(PSECURITY_DESCRIPTOR sd, char *buf, size_t cap) {
  if (cap) buf[0] = '\0';
  if (!sd) return 0;
  if (!IsValidSecurityDescriptor(sd))
    return pmw_host_fail(ERROR_INVALID_SECURITY_DESCR);
  SECURITY_DESCRIPTOR_CONTROL ctl;
  DWORD rev;
  if (!GetSecurityDescriptorControl(sd, &ctl, &rev)) return pmw_fail_last();
  BYTE *rel = NULL;
  DWORD len;
  if (ctl & SE_SELF_RELATIVE) {
    len = GetSecurityDescriptorLength(sd);
  } else {
    /* An absolute one (a replacement table may hand one out): made
     * self-relative, which is what NetShareAdd keeps. */
    len = 0;
    MakeSelfRelativeSD(sd, NULL, &len);
    rel = pm_xmalloc(len ? len : 1);
    if (!MakeSelfRelativeSD(sd, rel, &len)) {
      int rc = pmw_fail_last();
      free(rel);
      return rc;
    }
    sd = rel;
  }
  int rc = 0;
  if ((size_t)len * 2 + 5 > cap) {
    rc = pmw_fail(ERROR_INSUFFICIENT_BUFFER);
  } else {
    static const char hex[] = "0123456789abcdef";
    const BYTE *b = sd;
    memcpy(buf, "hex:", 4);
    for (DWORD i = 0; i < len; i++) {
      buf[4 + 2 * i] = hex[b[i] >> 4];
      buf[5 + 2 * i] = hex[b[i] & 15];
    }
    buf[4 + 2 * (size_t)len] = '\0';
  }
  free(rel);
  return rc;
}

static int hexval(char c) {
  return c >= '0' && c <= '9'   ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                : -1;
}

static uint32_t le32(const BYTE *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

/* True when `len` bytes hold a self-relative descriptor whose owner,
 * group and ACLs all lie inside them: the advapi32 checks read wherever
 * the offsets point, so text from a damaged plan must pass this first. */
static bool relative_sd_fits(const BYTE *b, size_t len) {
  if (len < 20 || b[0] != SECURITY_DESCRIPTOR_REVISION) return false;
  unsigned ctl = (unsigned)b[2] | (unsigned)b[3] << 8;
  if (!(ctl & SE_SELF_RELATIVE)) return false;
  for (int i = 0; i < 4; i++) {
    uint32_t off = le32(b + 4 + 4 * i);
    if (!off) continue;
    if (off < 20 || off > len || len - off < 8) return false;
    size_t size = i < 2 ? 8 + 4 * (size_t)b[off + 1] /* SID */
                        : (size_t)b[off + 2] | (size_t)b[off + 3] << 8;
    if (size < 8 || size > len - off) return false;
  }
  return true;
}

typedef BOOL(WINAPI *sddl_to_sd_fn)(LPCWSTR, DWORD, PSECURITY_DESCRIPTOR *,
                                    PULONG);

int pmw_sd_parse(const char *text, PSECURITY_DESCRIPTOR *out) {
  *out = NULL;
  if (!text[0]) return 0;
  BYTE *b;
  if (!strncmp(text, "hex:", 4)) {
    const char *p = text + 4;
    size_t n = strlen(p);
    if (n == 0 || n % 2) return pmw_host_fail(ERROR_INVALID_SECURITY_DESCR);
    b = pm_xmalloc(n / 2);
    for (size_t i = 0; i < n / 2; i++) {
      int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);
      if (hi < 0 || lo < 0) {
        free(b);
        return pmw_host_fail(ERROR_INVALID_SECURITY_DESCR);
      }
      b[i] = (BYTE)(hi * 16 + lo);
    }
    if (!relative_sd_fits(b, n / 2) || !IsValidSecurityDescriptor(b) ||
        GetSecurityDescriptorLength(b) > n / 2) {
      free(b);
      return pmw_host_fail(ERROR_INVALID_SECURITY_DESCR);
    }
  } else {
    /* SDDL: Windows 2000's advapi32 converts it; NT 4.0 cannot. */
    HMODULE adv = GetModuleHandleW(L"advapi32.dll");
    sddl_to_sd_fn conv =
        adv ? (sddl_to_sd_fn)(void (*)(void))GetProcAddress(
                  adv, "ConvertStringSecurityDescriptorToSecurityDescriptorW")
            : NULL;
    if (!conv) return pmw_fail(ERROR_CALL_NOT_IMPLEMENTED);
    wchar_t *w;
    PM_TRY(pmw_to_wide(text, (size_t)-1, &w, NULL));
    PSECURITY_DESCRIPTOR sd = NULL;
    ULONG len = 0;
    BOOL ok = conv(w, 1 /* SDDL_REVISION_1 */, &sd, &len);
    DWORD e = GetLastError();
    free(w);
    if (!ok) return pmw_host_fail(e == ERROR_SUCCESS ? ERROR_INVALID_SECURITY_DESCR
                                                : e);
    b = pm_xmalloc(len ? len : 1);
    memcpy(b, sd, len);
    LocalFree(sd);
  }
  *out = b;
  return 0;
}

/* ---- The table ---- */

static int to_utf8_field(const wchar_t *w, char *dst, size_t cap) {
  dst[0] = '\0';
  if (!w) return 0;
  char *u;
  PM_TRY(pmw_to_utf8(w, (size_t)-1, &u, NULL));
  int rc = 0;
  if (strlen(u) >= cap)
    rc = pmw_fail(ERROR_INSUFFICIENT_BUFFER);
  else
    memcpy(dst, u, strlen(u) + 1);
  free(u);
  return rc;
}

static int share_list(pm_host *h, pm_strlist *names) {
  const pmw_share_api *api = api_of(h);
  DWORD resume = 0;
  NET_API_STATUS st;
  int rc = 0;
  do {
    LPBYTE buf = NULL;
    DWORD read = 0, total = 0;
    st = api->enumerate(NULL, 1, &buf, MAX_PREFERRED_LENGTH, &read, &total,
                        &resume);
    if (st != NERR_Success && st != ERROR_MORE_DATA) {
      if (buf) api->free_buf(buf);
      return pmw_host_fail(st);
    }
    SHARE_INFO_1 *si = (SHARE_INFO_1 *)buf;
    for (DWORD i = 0; i < read && rc == 0; i++) {
      /* Disk shares only (the administrative ones too); printers, IPC$
       * and devices never serve a postoffice. */
      if ((si[i].shi1_type & 0xFF) != STYPE_DISKTREE) continue;
      char *u;
      rc = pmw_to_utf8(si[i].shi1_netname, (size_t)-1, &u, NULL);
      if (rc == 0) pm_strlist_add(names, u);
      free(u);
    }
    if (buf) api->free_buf(buf);
  } while (st == ERROR_MORE_DATA && rc == 0);
  return rc < 0 ? rc : 0;
}

static int share_get(pm_host *h, const char *name, pm_share_info *out) {
  const pmw_share_api *api = api_of(h);
  memset(out, 0, sizeof *out);
  wchar_t *w;
  PM_TRY(pmw_to_wide(name, (size_t)-1, &w, NULL));
  LPBYTE buf = NULL;
  NET_API_STATUS st = api->get_info(NULL, w, 502, &buf);
  free(w);
  if (st != NERR_Success) {
    if (buf) api->free_buf(buf);
    return pmw_host_fail(st);
  }
  SHARE_INFO_502 *si = (SHARE_INFO_502 *)buf;
  int rc = to_utf8_field(si->shi502_netname, out->name, sizeof out->name);
  if (rc == 0) rc = to_utf8_field(si->shi502_path, out->path, sizeof out->path);
  if (rc == 0)
    rc = to_utf8_field(si->shi502_remark, out->remark, sizeof out->remark);
  if (rc == 0)
    rc = pmw_sd_format(si->shi502_security_descriptor, out->sddl,
                       sizeof out->sddl);
  out->type = si->shi502_type;
  out->max_uses = si->shi502_max_uses;
  api->free_buf(buf);
  return rc;
}

static int share_add(pm_host *h, const pm_share_info *in) {
  const pmw_share_api *api = api_of(h);
  wchar_t *name = NULL, *path = NULL, *remark = NULL;
  PSECURITY_DESCRIPTOR sd = NULL;
  int rc = pmw_to_wide(in->name, (size_t)-1, &name, NULL);
  if (rc == 0) rc = pmw_to_wide(in->path, (size_t)-1, &path, NULL);
  if (rc == 0) rc = pmw_to_wide(in->remark, (size_t)-1, &remark, NULL);
  if (rc == 0) rc = pmw_sd_parse(in->sddl, &sd);
  if (rc == 0) {
    SHARE_INFO_502 si;
    memset(&si, 0, sizeof si);
    si.shi502_netname = name;
    si.shi502_type = in->type;
    si.shi502_remark = remark;
    si.shi502_max_uses = in->max_uses;
    si.shi502_path = path;
    si.shi502_security_descriptor = sd;
    DWORD parm = 0;
    NET_API_STATUS st = api->add(NULL, 502, (LPBYTE)&si, &parm);
    if (st != NERR_Success) rc = pmw_host_fail(st);
  }
  free(sd);
  free(remark);
  free(path);
  free(name);
  return rc;
}

static int share_del(pm_host *h, const char *name) {
  const pmw_share_api *api = api_of(h);
  wchar_t *w;
  PM_TRY(pmw_to_wide(name, (size_t)-1, &w, NULL));
  NET_API_STATUS st = api->del(NULL, w, 0);
  free(w);
  return st == NERR_Success ? 0 : pmw_host_fail(st);
}

const pm_share_ops pmw_share_ops = {share_list, share_get, share_add,
                                    share_del};
