using System.Data.Common;

namespace Recorder.Depot.Catalog;

/// <summary>Commands with named parameters, the same on SQLite and PostgreSQL (both take <c>@name</c>).</summary>
internal static class CatalogSql
{
    /// <summary>
    /// A command for <paramref name="sql"/> in <paramref name="tx"/>. A parameter the SQL does not
    /// name is left out, so one parameter list can serve queries that use only some of it.
    /// </summary>
    public static DbCommand Command(DbConnection connection, DbTransaction? tx, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = tx;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            if (!sql.Contains("@" + name, StringComparison.Ordinal)) continue;
            var parameter = command.CreateParameter();
            parameter.ParameterName = "@" + name;
            parameter.Value = value ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }
        return command;
    }

    public static void Execute(DbConnection connection, DbTransaction? tx, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, tx, sql, parameters);
        command.ExecuteNonQuery();
    }
}
