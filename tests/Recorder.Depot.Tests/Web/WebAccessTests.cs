using System.Net;
using Microsoft.AspNetCore.Http;
using Recorder.Depot.Identity;
using Recorder.Depot.Web;

namespace Recorder.Depot.Tests.Web;

public sealed class WebAccessTests
{
    /// <summary>
    /// Off loopback, the pages and the API take only an operator's token: not a vehicle's (those
    /// upload), not none. (The servers in tests bind 127.0.0.1, so the remote address is set on
    /// the request as Kestrel would set it.)
    /// </summary>
    [Fact]
    public void A_remote_reader_needs_an_operator_token_and_a_vehicle_token_is_not_one()
    {
        var dir = Directory.CreateTempSubdirectory("recorder-web-access-").FullName;
        try
        {
            var operatorToken = new TokenStore(Path.Combine(dir, "operator-tokens")).Add("ana");
            var vehicleToken = new TokenStore(Path.Combine(dir, "tokens")).Add("test-0001");
            var access = new OperatorAccess(new TokenStore(Path.Combine(dir, "operator-tokens")));
            HttpContext Request(string address, string? token)
            {
                var context = new DefaultHttpContext();
                context.Connection.RemoteIpAddress = IPAddress.Parse(address);
                if (token is not null) context.Request.Headers.Authorization = "Bearer " + token;
                return context;
            }
            Assert.True(access.Allows(Request("127.0.0.1", null)));
            Assert.True(access.Allows(Request("::1", null)));
            Assert.False(access.Allows(Request("10.1.2.3", null)));
            Assert.False(access.Allows(Request("10.1.2.3", vehicleToken)));
            Assert.False(access.Allows(Request("10.1.2.3", "rdt_not-a-token")));
            Assert.True(access.Allows(Request("10.1.2.3", operatorToken)));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Text_and_attribute_values_from_recordings_are_html_encoded()
    {
        var html = new Html().Element("td", "<script>alert('x')</script> & co", ("title", "\"><img src=x onerror=alert(1)>")).ToString();
        Assert.DoesNotContain("<script>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<img", html, StringComparison.Ordinal);
        Assert.DoesNotContain("\"><", html, StringComparison.Ordinal);
        Assert.StartsWith("<td title=\"", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pages_answer_a_bad_filter_with_its_reason_and_the_api_refuses_an_unknown_sort()
    {
        await using var depot = await TestDepot.StartAsync();
        using var client = depot.Client(null);
        var page = await client.GetAsync(new Uri(depot.App.Url, "/?from=yesterday"));
        Assert.Equal(HttpStatusCode.BadRequest, page.StatusCode);
        Assert.Contains("from is a time like", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var api = await client.GetAsync(new Uri(depot.App.Url, "/api/recordings?sort=colour"));
        Assert.Equal(HttpStatusCode.BadRequest, api.StatusCode);
        Assert.Contains("sort is time, duration or size", await api.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var css = await client.GetAsync(new Uri(depot.App.Url, "/web/depot.css"));
        Assert.Equal(HttpStatusCode.OK, css.StatusCode);
        Assert.Contains(".timeline", await css.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    /// <summary>/api/export is the export's, not the catalog API's (which serves the rest of /api/ and knows no export).</summary>
    [Fact]
    public async Task Api_export_reaches_the_export_and_not_the_catalog_api()
    {
        await using var depot = await TestDepot.StartAsync();
        using var client = depot.Client(null);
        var answer = await client.GetAsync(new Uri(depot.App.Url, "/api/export?device=dev-a&start=0&end=1000"));
        Assert.DoesNotContain("no such API", await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
