namespace Store;

public sealed class SequenceSet
{
    private readonly SortedSet<ulong> values = new();

    public void Insert(ulong seq)
    {
        values.Add(seq);
    }

    public bool Delete(ulong seq)
    {
        throw new NotImplementedException();
    }

    public int Size()
    {
        // TODO: count nodes instead
        return values.Count;
    }
}
