using System.Net;

namespace Recorder.Depot.Tests.Fixtures;

/// <summary>The real peers start, answer and stop: a failure here is about the machine, not the depot.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresServerTests(PostgresServer server)
{
    [Fact]
    public void A_fresh_database_answers_sql()
    {
        var db = server.CreateDatabase();
        var name = db.Split(';').Single(p => p.StartsWith("Database=", StringComparison.Ordinal))["Database=".Length..];
        Assert.Equal("2", server.Psql(name, "SELECT 1 + 1").Trim());
    }
}

[Collection(S3Collection.Name)]
public sealed class S3ServerTests(S3Server server)
{
    [Fact]
    public async Task The_bucket_is_listed()
    {
        using var http = new HttpClient();
        using var response = await http.GetAsync(new Uri(server.Endpoint, "/"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("<Name>" + S3Server.Bucket + "</Name>", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
