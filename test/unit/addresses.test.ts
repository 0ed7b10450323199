import { describe, expect, it } from "vitest";
import { hostClass, ipClass, notifyUrlProblem, resolvedAddressProblem } from "../../core/model/index.js";

describe("address classes", () => {
  it.each([
    ["8.8.8.8", "public"],
    ["172.32.0.1", "public"],
    ["100.128.0.1", "public"],
    ["0.0.0.0", "unspecified"],
    ["0.1.2.3", "unspecified"],
    ["10.255.255.255", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.0.1", "private"],
    ["100.64.0.1", "shared"],
    ["100.127.255.255", "shared"],
    ["127.0.0.1", "loopback"],
    ["127.255.0.9", "loopback"],
    ["169.254.169.254", "link-local"],
    ["192.0.2.1", "reserved"],
    ["198.18.0.1", "reserved"],
    ["203.0.113.7", "reserved"],
    ["224.0.0.251", "multicast"],
    ["239.255.255.250", "multicast"],
    ["240.0.0.1", "reserved"],
    ["255.255.255.255", "reserved"],
    ["2606:4700:4700::1111", "public"],
    ["::", "unspecified"],
    ["::1", "loopback"],
    ["0:0:0:0:0:0:0:1", "loopback"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:a9fe:a9fe", "link-local"],
    ["::ffff:8.8.8.8", "public"],
    ["::127.0.0.1", "loopback"],
    ["64:ff9b::10.0.0.1", "private"],
    ["2002:c0a8:0101::1", "private"],
    ["fd12:3456::1", "private"],
    ["fc00::1", "private"],
    ["fe80::1%eth0", "link-local"],
    ["ff02::1", "multicast"],
    ["2001:db8::1", "reserved"],
    ["2001::1", "reserved"],
    ["100::1", "reserved"],
  ])("%s is %s", (address, kind) => {
    expect(ipClass(address)).toBe(kind);
  });

  it.each(["example.com", "1.2.3", "::1::2", "1.2.3.256", "12345::", "g::1"])(
    "%s is not an address",
    (text) => {
      expect(ipClass(text)).toBeUndefined();
    },
  );

  it("reads hostnames as new URL leaves them, and names that always mean loopback", () => {
    const host = (url: string) => hostClass(new URL(url).hostname);
    expect(host("http://0x7f000001/")).toBe("loopback");
    expect(host("http://2130706433/")).toBe("loopback");
    expect(host("http://0177.0.0.1/")).toBe("loopback");
    expect(host("http://127.1/")).toBe("loopback");
    expect(host("http://0/")).toBe("unspecified");
    expect(host("http://[::ffff:127.0.0.1]/")).toBe("loopback");
    expect(host("http://LOCALHOST./")).toBe("loopback");
    expect(host("http://api.localhost/")).toBe("loopback");
    expect(host("http://0xa9fea9fe/")).toBe("link-local");
    expect(host("https://open.feishu.cn/")).toBe("name");
  });
});

describe("the notify URL rule", () => {
  const closed = { allowLoopback: false };
  const open = { allowLoopback: true };

  it("takes https to public addresses and names", () => {
    expect(notifyUrlProblem("https://open.feishu.cn/open-apis/bot/v2/hook/x", closed)).toBeUndefined();
    expect(notifyUrlProblem("https://1.1.1.1/hook", closed)).toBeUndefined();
  });

  it("takes http only to loopback, and loopback only where allowed", () => {
    expect(notifyUrlProblem("http://example.com/hook", open)).toMatch(/must be https/);
    expect(notifyUrlProblem("http://127.0.0.1:9000/hook", open)).toBeUndefined();
    expect(notifyUrlProblem("http://localhost:9001/", closed)).toMatch(
      /loopback address: .*HOOKFLOW_ALLOW_LOOPBACK_TARGETS=1/,
    );
  });

  it("refuses every other special address, loopback allowed or not", () => {
    for (const url of ["https://169.254.169.254/", "https://10.0.0.1/", "https://[fd00::1]/"])
      expect(notifyUrlProblem(url, open)).toMatch(/only to public addresses/);
  });

  it("applies the same rule to resolved addresses; anything unreadable is refused", () => {
    expect(resolvedAddressProblem("93.184.215.14", closed)).toBeUndefined();
    expect(resolvedAddressProblem("127.0.0.1", open)).toBeUndefined();
    expect(resolvedAddressProblem("127.0.0.1", closed)).toMatch(/loopback/);
    expect(resolvedAddressProblem("not-an-address", open)).toMatch(/reserved/);
  });
});
