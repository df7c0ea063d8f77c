"""RFC 7628 §4's IMAP examples, base64 as the RFC prints them (lines joined), shared by the
protocol and the socket tests of OAUTHBEARER."""

# RFC 7628 §4.1, the IMAP example's initial client response (lines joined).
RFC_41 = ("bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9"
          "QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB")
# §4.3: the failed exchange's client response and the server's JSON error challenge.
RFC_43_CLIENT = ("bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQz"
                 "AWF1dGg9AQE=")
RFC_43_SERVER = ("eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3Bl"
                 "bmlkLWNvbmZpZ3VyYXRpb24iOiJodHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtub3duL29w"
                 "ZW5pZC1jb25maWd1cmF0aW9uIn0=")
